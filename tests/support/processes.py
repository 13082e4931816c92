"""A project process started as a person starts it (``python -m ...``), its output in a file,
and the port it says it listens on."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


def start(args: list[str], out: Path) -> tuple[subprocess.Popen, str]:
    """``python -m *args``, once it printed "listening on port N": the process, "127.0.0.1:N"."""
    f = open(out, "w")  # noqa: SIM115 - closed with the process
    p = subprocess.Popen([sys.executable, "-m", *args], cwd=ROOT, stdout=f,
                         stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        m = re.search(r"listening on port (\d+)", out.read_text())
        if m:
            return p, f"127.0.0.1:{m.group(1)}"
        if p.poll() is not None:
            break
        time.sleep(0.05)
    p.kill()
    raise RuntimeError(out.read_text())
