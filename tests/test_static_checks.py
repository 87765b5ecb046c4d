"""ruff and mypy --strict over our own code (generated code excluded), as part of the suite.

Our own code is the client and service packages and also what exercises them: tests/, bench/,
scripts/ and examples/. And every `# type: ignore` names its error code and says why.
"""
from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
import tokenize
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# What ruff lints and mypy checks (mypy also follows imports into the generated code, whose
# errors pyproject.toml ignores).
OUR_CODE = ("client", "service", "scripts", "tests", "bench", "examples")
MYPY_TARGETS = ("client/fsgate", "service/fsgate_server", "scripts", "tests", "bench",
                "examples")
GENERATED = REPO / "client" / "fsgate" / "v1"

# An ignore comment names its error codes in brackets and is followed, on the same line, by
# `# why` -- or the line just above is a comment saying why (for a line with no room left).
IGNORE = re.compile(r"type:\s*ignore\b(?P<codes>\[[^\]]*\])?(?P<rest>.*)")
CODES = re.compile(r"\[[a-z][a-z-]*(,\s*[a-z][a-z-]*)*\]")
REASON = re.compile(r"\s*#\s*\S")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, MYPYPATH=f"{REPO / 'client'}:{REPO / 'service'}")
    return subprocess.run([sys.executable, "-m", *args], cwd=REPO, env=env,
                          capture_output=True, text=True)


@pytest.mark.skipif(shutil.which("ruff") is None and not (Path(sys.prefix) / "bin/ruff").exists(),
                    reason="ruff not installed (pip install -e '.[dev]')")
def test_ruff_is_clean() -> None:
    result = run("ruff", "check", *OUR_CODE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_is_clean() -> None:
    result = run("mypy", "--strict", *MYPY_TARGETS)
    assert result.returncode == 0, result.stdout + result.stderr


def type_ignores_without_code_or_reason(source: str) -> list[tuple[int, str]]:
    """(line, comment) of each `type: ignore` comment lacking an error code or a reason."""
    lines = source.splitlines()
    bad = []
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type != tokenize.COMMENT:
            continue
        found = IGNORE.search(tok.string)
        if found is None:
            continue
        row = tok.start[0]
        above = lines[row - 2].strip() if row >= 2 else ""
        has_code = found["codes"] is not None and CODES.fullmatch(found["codes"]) is not None
        has_reason = REASON.match(found["rest"]) is not None or (
            above.startswith("#") and IGNORE.search(above) is None)
        if not (has_code and has_reason):
            bad.append((row, tok.string))
    return bad


def test_every_type_ignore_names_its_code_and_says_why() -> None:
    files = [p for top in OUR_CODE for p in sorted((REPO / top).rglob("*.py"))
             if GENERATED not in p.parents and "__pycache__" not in p.parts]
    assert len(files) > 100  # the scan really covers the tree
    bad = [f"{p.relative_to(REPO)}:{row}: {comment}" for p in files
           for row, comment in type_ignores_without_code_or_reason(p.read_text())]
    assert not bad, "a `# type: ignore[code]  # reason` for each:\n" + "\n".join(bad)


@pytest.mark.parametrize(("source", "ok"), [
    ("x = f()  # type: ignore[attr-defined]  # no stubs for f", True),
    ("x = f()  # type: ignore[arg-type, misc]  # both, on purpose", True),
    ("# f has no stubs, and the line has no room left\nx = f()  # type: ignore[attr-defined]",
     True),
    ("s = '# type: ignore'  # a string, not a comment", True),
    ("x = f()  # type: ignore", False),
    ("x = f()  # type: ignore  # no code", False),
    ("x = f()  # type: ignore[attr-defined]", False),
    ("x = f()  # type:ignore[]  # empty code", False),
    ("x = f()  # noqa: E501  # type: ignore[attr-defined]", False),
    ("x = 1\nx = f()  # type: ignore[attr-defined]", False),
    ("y = g()  # type: ignore[misc]  # why\nx = f()  # type: ignore[attr-defined]", False),
])
def test_the_type_ignore_rule_itself(source: str, ok: bool) -> None:
    assert (type_ignores_without_code_or_reason(source + "\n") == []) is ok
