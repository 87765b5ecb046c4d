"""The checked-in generated code is exactly what scripts/generate_protos.py makes now."""
from __future__ import annotations

import filecmp
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_generated_code_is_fresh(tmp_path: Path) -> None:
    subprocess.run([sys.executable, str(REPO / "scripts" / "generate_protos.py"),
                    "--out", str(tmp_path)], check=True)
    fresh = tmp_path / "fsgate" / "v1"
    checked_in = REPO / "client" / "fsgate" / "v1"
    names = sorted(p.name for p in fresh.iterdir())
    assert names == sorted(p.name for p in checked_in.iterdir() if p.name != "__pycache__")
    _, mismatch, errors = filecmp.cmpfiles(fresh, checked_in, names, shallow=False)
    assert not mismatch and not errors, (
        f"generated code is stale: {mismatch or errors}; run scripts/generate_protos.py")
