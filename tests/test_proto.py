"""The gRPC contract: clean under `buf lint` with the STANDARD rules, and the lint can fail."""

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUF = ROOT / "node_modules" / ".bin" / "buf"


def _lint(proto_dir: Path) -> subprocess.CompletedProcess:
    assert BUF.exists(), "run `make setup` (npm ci installs @bufbuild/buf)"
    return subprocess.run([str(BUF), "lint"], cwd=proto_dir, capture_output=True, text=True,
                          timeout=120)


def test_buf_lint_standard_is_clean():
    result = _lint(ROOT / "proto")
    assert result.returncode == 0, result.stdout + result.stderr


def test_buf_lint_catches_a_violation(tmp_path):
    copy = tmp_path / "proto"
    shutil.copytree(ROOT / "proto", copy, ignore=shutil.ignore_patterns("*.py", "*.pyi"))
    bad = copy / "ownervote" / "v1" / "ledger.proto"
    bad.write_text(bad.read_text() + "\nenum color { RED = 0; }\n")
    result = _lint(copy)
    assert result.returncode != 0
    assert "_UNSPECIFIED" in result.stdout + result.stderr
