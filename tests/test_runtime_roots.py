"""Tests for fsgate_server.runtime_roots: what every helper may read and execute to run."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import fsgate
import fsgate_server
import pytest
from fsgate_server import runtime_roots as rr
from fsgate_server.policy import is_within
from fsgate_server.runtime_roots import (
    RuntimeFacts,
    compute_runtime_files,
    compute_runtime_roots,
    elf_interpreter,
    executable_mappings,
    runtime_files,
    runtime_roots,
)

# Where fsgate and fsgate_server are imported from: a source checkout's client/ and
# service/, or site-packages.
SOURCE_DIRS = list(
    dict.fromkeys(str(Path(p).parent) for p in [*fsgate.__path__, *fsgate_server.__path__])
)
PROJECT = Path(__file__).resolve().parents[1]


def facts(**overrides: object) -> RuntimeFacts:
    base: dict[str, object] = {
        "executable": "/opt/py/bin/python3.11",
        "real_executable": "/opt/py/bin/python3.11",
        "stdlib_dirs": ("/opt/py/lib/python3.11", "/opt/py/lib/python3.11/lib-dynload"),
        "package_dirs": ("/opt/py/lib/python3.11/site-packages",),
        "library_dirs": ("/usr/lib/x86_64-linux-gnu",),
    }
    base.update(overrides)
    return RuntimeFacts(**base)  # type: ignore[arg-type]  # fields of several types, by name


def covered(path: str, roots: tuple[str, ...]) -> bool:
    return any(is_within(path, root) for root in roots)


def test_public_surface_is_pinned() -> None:
    assert sorted(rr.__all__) == sorted(
        [
            "RUNTIME_MODULES",
            "RuntimeFacts",
            "compute_runtime_files",
            "compute_runtime_roots",
            "elf_interpreter",
            "executable_mappings",
            "runtime_files",
            "runtime_roots",
        ]
    )


# --- compute_runtime_roots (pure) ----------------------------------------------------


def test_venv_alias_grants_both_the_alias_dir_and_the_real_interpreter_dir() -> None:
    roots = compute_runtime_roots(
        facts(executable="/venv/bin/python", real_executable="/opt/py/bin/python3.11")
    )
    assert "/venv/bin" in roots
    assert "/opt/py/bin" in roots


def test_alias_in_the_interpreter_dir_yields_one_root() -> None:
    roots = compute_runtime_roots(
        facts(executable="/opt/py/bin/python", real_executable="/opt/py/bin/python3.11")
    )
    assert roots.count("/opt/py/bin") == 1


def test_basic_roots_are_the_interpreter_stdlib_packages_and_libraries() -> None:
    assert compute_runtime_roots(facts()) == (
        "/opt/py/bin",
        "/opt/py/lib/python3.11",
        "/usr/lib/x86_64-linux-gnu",
    )


def test_duplicates_are_removed() -> None:
    roots = compute_runtime_roots(
        facts(
            package_dirs=("/srv/app/client", "/srv/app/client", "/srv/app/client/"),
            library_dirs=("/usr/lib64", "/usr/lib64", "/usr//lib64"),
        )
    )
    assert roots.count("/srv/app/client") == 1
    assert roots.count("/usr/lib64") == 1


def test_entries_nested_in_another_entry_are_removed() -> None:
    roots = compute_runtime_roots(
        facts(
            package_dirs=("/opt/py/lib/python3.11/site-packages", "/srv/app/client"),
            library_dirs=("/opt/py/lib", "/opt/py/lib/python3.11/site-packages/grpc/_cython"),
        )
    )
    assert roots == ("/opt/py/bin", "/opt/py/lib", "/srv/app/client")


def test_prefix_sibling_is_not_treated_as_nested() -> None:
    roots = compute_runtime_roots(facts(package_dirs=("/opt/py2/site", "/opt/py")))
    assert "/opt/py" in roots
    assert "/opt/py2/site" in roots


def test_roots_are_normalized_and_sorted() -> None:
    roots = compute_runtime_roots(
        facts(
            package_dirs=("/srv/b/./pkgs/", "/srv/a/x/../pkgs"),
            library_dirs=("//lib64", "/usr/lib/x86_64-linux-gnu/"),
        )
    )
    assert roots == (
        "/lib64",
        "/opt/py/bin",
        "/opt/py/lib/python3.11",
        "/srv/a/pkgs",
        "/srv/b/pkgs",
        "/usr/lib/x86_64-linux-gnu",
    )
    assert list(roots) == sorted(roots)


@pytest.mark.parametrize(
    "override",
    [
        {"executable": "/python"},
        {"real_executable": "/python3.11"},
        {"stdlib_dirs": ("/",)},
        {"package_dirs": ("/srv/..",)},
        {"library_dirs": ("//",)},
        {"library_dirs": ("/usr/lib", "/lib/../")},
    ],
)
def test_slash_is_never_a_runtime_root(override: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="whole file system"):
        compute_runtime_roots(facts(**override))


def test_top_level_library_dir_is_allowed() -> None:
    # /lib64 holds the dynamic loader on x86-64; only "/" itself is refused.
    assert "/lib64" in compute_runtime_roots(facts(library_dirs=("/lib64",)))


def test_relative_fact_paths_are_refused() -> None:
    with pytest.raises(ValueError, match="not absolute"):
        compute_runtime_roots(facts(package_dirs=("client",)))


def test_startup_file_outside_the_roots_is_a_runtime_file() -> None:
    result = compute_runtime_files(
        facts(
            executable="/venv/bin/python",
            real_executable="/opt/py/bin/python3.11",
            startup_files=("/venv/pyvenv.cfg", "/etc/ld.so.cache", "/etc//ld.so.cache"),
        )
    )
    assert result == ("/etc/ld.so.cache", "/venv/pyvenv.cfg")


def test_startup_file_inside_a_root_is_left_out() -> None:
    result = compute_runtime_files(facts(startup_files=("/opt/py/bin/pyvenv.cfg",)))
    assert result == ()


# --- executable_mappings / elf_interpreter (pure) -----------------------------------

MAPS = """\
55d0c0a00000-55d0c0a01000 r--p 00000000 08:01 1234   /opt/py/bin/python3.11
55d0c0a01000-55d0c0a02000 r-xp 00001000 08:01 1234   /opt/py/bin/python3.11
7f0000000000-7f0000001000 r-xp 00000000 08:01 2222   /usr/lib/x86_64-linux-gnu/libc.so.6
7f0000001000-7f0000002000 r-xp 00000000 08:01 2222   /usr/lib/x86_64-linux-gnu/libc.so.6
7f0000002000-7f0000003000 r--s 00000000 08:01 3333   /ws/data.bin
7f0000003000-7f0000004000 r--p 00000000 08:01 4444   /usr/lib/locale/locale-archive
7f0000004000-7f0000005000 r-xp 00000000 08:01 5555   /opt/my libs/libsp ace.so
7f0000005000-7f0000006000 rwxp 00000000 00:05 6666   /tmp/ffiXyZ (deleted)
7f0000006000-7f0000007000 r-xs 00000000 00:01 7777   /memfd:jit (deleted)
7f0000007000-7f0000008000 r-xs 00000000 00:01 7778   /dev/zero
7f0000008000-7f0000009000 rw-p 00000000 00:00 0
7ffd00000000-7ffd00001000 r-xp 00000000 00:00 0      [vdso]
ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0 [vsyscall]
"""


def test_executable_mappings_lists_each_mapped_code_file_once() -> None:
    assert executable_mappings(MAPS) == (
        "/opt/py/bin/python3.11",
        "/usr/lib/x86_64-linux-gnu/libc.so.6",
        "/opt/my libs/libsp ace.so",
    )


def test_data_file_mapped_by_the_server_never_becomes_a_runtime_root() -> None:
    assert not any(p.startswith(("/ws", "/usr/lib/locale")) for p in executable_mappings(MAPS))


def test_deleted_special_and_anonymous_mappings_are_skipped() -> None:
    found = executable_mappings(MAPS)
    assert not any(p.startswith(("/tmp", "/memfd:", "/dev/", "[")) for p in found)


def _elf(interp: bytes, *, elf64: bool, little: bool) -> bytes:
    """A minimal ELF image: header, one PT_LOAD, one PT_INTERP, then the interpreter path."""
    end = "<" if little else ">"
    if elf64:
        ehsize, phentsize, phoff = 64, 56, 64
        data_at = phoff + 2 * phentsize
        header = b"\x7fELF" + bytes([2, 1 if little else 2, 1]) + bytes(9)
        header += struct.pack(end + "HHIQQQIHHHHHH", 2, 62, 1, 0, phoff, 0, 0, ehsize,
                              phentsize, 2, 0, 0, 0)  # fmt: skip
        load = struct.pack(end + "IIQQQQQQ", 1, 5, 0, 0, 0, 0, 0, 0)
        pt_interp = struct.pack(end + "IIQQQQQQ", 3, 4, data_at, 0, 0, len(interp), 0, 1)
    else:
        ehsize, phentsize, phoff = 52, 32, 52
        data_at = phoff + 2 * phentsize
        header = b"\x7fELF" + bytes([1, 1 if little else 2, 1]) + bytes(9)
        header += struct.pack(end + "HHIIIIIHHHHHH", 2, 3, 1, 0, phoff, 0, 0, ehsize,
                              phentsize, 2, 0, 0, 0)  # fmt: skip
        load = struct.pack(end + "IIIIIIII", 1, 0, 0, 0, 0, 0, 5, 0)
        pt_interp = struct.pack(end + "IIIIIIII", 3, data_at, 0, 0, len(interp), 0, 4, 1)
    image = header + load + pt_interp
    assert len(image) == data_at
    return image + interp


@pytest.mark.parametrize("elf64", [True, False])
@pytest.mark.parametrize("little", [True, False])
def test_elf_interpreter_reads_pt_interp(elf64: bool, little: bool) -> None:
    image = _elf(b"/lib64/ld-linux-x86-64.so.2\x00", elf64=elf64, little=little)
    assert elf_interpreter(image) == "/lib64/ld-linux-x86-64.so.2"


def test_elf_interpreter_of_a_non_elf_file_is_none() -> None:
    assert elf_interpreter(b"#!/bin/sh\necho hi\n") is None
    assert elf_interpreter(b"") is None


def test_elf_interpreter_of_a_truncated_image_is_none() -> None:
    image = _elf(b"/lib/ld-musl-x86_64.so.1\x00", elf64=True, little=True)
    assert elf_interpreter(image[:100]) is None
    assert elf_interpreter(image[:-5]) is None


def test_elf_interpreter_of_this_interpreter_is_an_absolute_path() -> None:
    with open(os.path.realpath(sys.executable), "rb") as image:
        interp = elf_interpreter(image.read(64 * 1024))
    if interp is None:
        pytest.skip("statically linked interpreter")
    assert interp.startswith("/")
    assert os.path.exists(interp)


# --- gather (real I/O) ---------------------------------------------------------------


def test_gathered_roots_cover_what_this_interpreter_runs_from() -> None:
    import google.protobuf
    import grpc
    import structlog

    roots = compute_runtime_roots(RuntimeFacts.gather())
    assert "/" not in roots
    assert all(os.path.isdir(root) for root in roots)
    needed = [
        os.path.dirname(sys.executable),
        os.path.dirname(os.path.realpath(sys.executable)),
        os.path.dirname(os.__file__),
        os.path.dirname(str(grpc.__file__)),
        os.path.dirname(str(google.protobuf.__file__)),
        os.path.dirname(str(structlog.__file__)),
        *SOURCE_DIRS,
    ]
    for path in needed:
        assert covered(path, roots), path


def test_gathered_roots_cover_every_mapped_shared_library() -> None:
    roots = compute_runtime_roots(RuntimeFacts.gather())
    with open("/proc/self/maps") as maps:
        mapped = [p for p in executable_mappings(maps.read()) if os.path.isfile(p)]
    assert mapped
    for path in mapped:
        assert covered(os.path.realpath(path), roots), path


def test_source_checkout_grants_the_package_parent_not_the_project_root() -> None:
    facts = RuntimeFacts.gather()
    roots = compute_runtime_roots(facts)
    assert str(PROJECT) not in roots
    assert not covered(str(PROJECT / "tests"), roots)
    for source_dir in SOURCE_DIRS:
        assert source_dir in facts.package_dirs


def test_runtime_roots_are_computed_once() -> None:
    assert runtime_roots() is runtime_roots()
    assert runtime_files() is runtime_files()
    assert covered(os.path.dirname(sys.executable), runtime_roots())


def test_real_venv_grants_both_its_bin_dir_and_the_base_interpreter_dir(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    # System site-packages: the helper's dependencies (grpc, ...) live in the base install.
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", str(venv)],
        check=True,
        timeout=120,
    )
    alias = venv / "bin" / "python"
    assert alias.is_symlink()
    script = (
        "import dataclasses, json\n"
        "from fsgate_server.runtime_roots import RuntimeFacts\n"
        "print(json.dumps(dataclasses.asdict(RuntimeFacts.gather())))\n"
    )
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": os.pathsep.join(SOURCE_DIRS),
    }
    done = subprocess.run(
        [str(alias), "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    raw = json.loads(done.stdout)
    gathered = RuntimeFacts(
        executable=raw["executable"],
        real_executable=raw["real_executable"],
        stdlib_dirs=tuple(raw["stdlib_dirs"]),
        package_dirs=tuple(raw["package_dirs"]),
        library_dirs=tuple(raw["library_dirs"]),
        startup_files=tuple(raw["startup_files"]),
    )

    assert gathered.executable == str(alias)
    assert gathered.real_executable == os.path.realpath(alias)
    roots = compute_runtime_roots(gathered)
    assert str(venv / "bin") in roots
    assert os.path.dirname(os.path.realpath(alias)) in roots
    assert str(venv) not in roots
    # Nothing is imported from the venv's own lib/, so none of it is granted.
    assert not covered(str(venv / "lib"), roots)
    assert str(venv / "pyvenv.cfg") in compute_runtime_files(gathered)
    for source_dir in SOURCE_DIRS:
        assert covered(source_dir, roots)
