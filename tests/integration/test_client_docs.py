"""docs/client.md's Python examples run, in order, as one script against a real server."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from ..conftest import REPO, ServerProcess, server_env

DOC = REPO / "docs" / "client.md"


def python_blocks(markdown: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", markdown, flags=re.DOTALL | re.MULTILINE)


def test_client_doc_examples_run_against_a_server(served: ServerProcess, ws: Path,
                                                  tmp_path: Path) -> None:
    script = "\n\n".join(python_blocks(DOC.read_text()))
    script, targets = re.subn(r'^TARGET = ".*"', f"TARGET = {served.target!r}", script,
                              flags=re.MULTILINE)
    script, roots = re.subn(r'^WS = ".*"', f"WS = {str(ws)!r}", script, flags=re.MULTILINE)
    assert (targets, roots) == (1, 1), "the doc's first example must set TARGET and WS"
    (tmp_path / "doc_examples.py").write_text(script)

    result = subprocess.run([sys.executable, str(tmp_path / "doc_examples.py")],
                            env=server_env(), capture_output=True, text=True, timeout=300,
                            check=False)

    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "ABORTED VERSION_MISMATCH" in out
    assert "PERMISSION_DENIED OUTSIDE_POLICY" in out
    assert "NotFound" in out
    assert "AMBIGUOUS_MATCH 0 4" in out and "2 True" in out
    assert "CREATED /watched/sub\nCREATED /watched/sub/report.txt\n" in out
    assert "scratch.tmp" not in out
    assert (ws / "out" / "report.txt").read_bytes() == b"v2\n"
    assert (ws / "async.txt").read_bytes() == b"chunk 0\nchunk 1\nchunk 2\n"


README = REPO / "README.md"
#: `print(...)  # what it prints`: the comment is the line the call must print.
PRINT_COMMENT = re.compile(r"^\s*print\(.*\)\s+#\s*(.+?)\s*$", flags=re.MULTILINE)


def test_readme_python_examples_run_and_print_what_their_comments_say(
    served: ServerProcess, ws: Path, tmp_path: Path
) -> None:
    script = "import fsgate\n\n" + "\n\n".join(python_blocks(README.read_text()))
    expected = PRINT_COMMENT.findall(script)
    assert "PERMISSION_DENIED OUTSIDE_POLICY" in expected
    # The README's placeholders: the server it talks to and the served directory.
    for placeholder in ('"127.0.0.1:50051"', '"unix:/run/fsgate.sock"'):
        script = script.replace(placeholder, repr(served.target))
    script = script.replace("/abs/path/workspace", str(ws)).replace('"/ws', f'"{ws}')
    (tmp_path / "readme_examples.py").write_text(script)

    result = subprocess.run([sys.executable, str(tmp_path / "readme_examples.py")],
                            env=server_env(), capture_output=True, text=True, timeout=300,
                            check=False)

    assert result.returncode == 0, result.stdout + result.stderr
    printed = result.stdout.splitlines()
    for line in expected:
        assert line in printed, (line, printed)
    assert (ws / "out" / "report.txt").read_bytes() == b"done\n"
