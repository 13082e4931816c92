"""`make demo` must keep working: a shortened run of the whole demo (real processes), checking
what it prints at each step and that it stops everything it started."""

from __future__ import annotations

import subprocess
import sys

from clients.local_cluster import ROOT


def test_the_demo_runs_end_to_end(tmp_path):
    out = tmp_path / "demo.out"
    with open(out, "w") as f:  # a file, not a pipe: the child may print more than a pipe holds
        done = subprocess.run([sys.executable, "-m", "clients.demo", "--voters", "30",
                               "--window", "30", "--lead", "12"], cwd=ROOT, stdout=f,
                              stderr=subprocess.STDOUT, timeout=300)
    text = out.read_text()
    assert done.returncode == 0, text[-4000:]
    for expected in ("200 units", "registrars (committee, housing-bureau, street-office) put "
                     "their own issuer keys", "30 credentials", "30 ballots cast",
                     "ALREADY_EXISTS (CREDENTIAL_ISSUED)", "PERMISSION_DENIED (NOT_AN_OWNER)",
                     "a replay): its original receipt (ledger index",
                     "INVALID_ARGUMENT (INVALID_SELECTION)",
                     "INVALID_ARGUMENT (INVALID_CREDENTIAL)", "the close is not on the ledger",
                     "PERMISSION_DENIED (UNAUTHORISED_REQUEST)",
                     "1 registrar signature(s), the election needs 2",
                     "final batch on the ledger",
                     "FAILED_PRECONDITION", "guardian 5: ledger verified",
                     "the totals equal the votes the demo cast", "PUBLISHED",
                     "VERIFIED: every check passed", "a copy with one flipped bit: exit 1",
                     "all processes stopped"):
        assert expected in text, (expected, text[-4000:])
    leftover = subprocess.run(["pgrep", "-f", "ownervote-demo-"], capture_output=True, text=True)
    assert leftover.stdout.strip() == "", "the demo left processes running"
