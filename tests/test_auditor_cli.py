"""The auditor CLI (clients/auditor.py): a whole election's ledger verifies from an export and
from the server against a pinned trust bundle (and nothing without one); a tampered copy, a
ledger that breaks an election rule and a fork of the view it kept exit non-zero."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from clients.auditor import main as auditor
from clients.ledger_export import fetch_export
from crypto.encoding import Event, decode_event, encode_event
from crypto.log.checkpoint import Checkpoint, SignedCheckpoint
from crypto.log.export import encode_export
from crypto.log.trust import decode_bundle
from crypto.log.view import LogView
from crypto.records import ElectionEvent, decode_result, encode_result
from tests.election_ledger import close_and_tally, open_election, vote
from tests.ledger_support import start_log


@pytest.fixture(scope="module")
def election():
    led = open_election("audited-election")
    vote(led, [(0, [0]), (1, [0]), (2, [1]), (3, [2])])
    close_and_tally(led)
    return led


async def _export(dsn, tmp_path, entries, registrars):
    h = await start_log(dsn, tmp_path, n_witnesses=2, quorum=2)
    for e in entries[:-1]:
        await h.ledger.append(e)
    await h.ledger.append_with_receipt(entries[-1], timeout=20)
    _ = h.stub
    export = await fetch_export(h.channel)
    return h, export, ["--trust", str(h.write_bundle(tmp_path / "trust.txt", registrars))]


async def test_verify_an_export_and_the_server_then_refuse_a_tampered_copy(
        dsn, tmp_path, election, capsys):
    h, export, keys = await _export(dsn, tmp_path, election.entries, election.registrars)
    try:
        path = tmp_path / "ledger.bin"
        path.write_bytes(encode_export(export))
        assert auditor(["verify", "--export", str(path), *keys]) == 0
        out = capsys.readouterr().out
        assert "VERIFIED" in out and "audited-election: PUBLISHED" in out
        assert "4 on the ledger" in out and "approve" in out
        # the roll file the auditor holds is the committed roll; a changed one is not
        roll = Path(__file__).parent / "vectors" / "rolls" / "sample_roll.csv"
        assert auditor(["verify", "--export", str(path), *keys, "--roll", str(roll)]) == 0
        assert "roll file: hash" in capsys.readouterr().out
        changed = tmp_path / "changed.csv"
        changed.write_text(roll.read_text().replace("89.50", "89.51", 1))
        assert auditor(["verify", "--export", str(path), *keys, "--roll", str(changed)]) == 1
        assert "is not the roll the ledger commits to" in capsys.readouterr().err
        # from the server, asking every witness for the checkpoint it co-signed last
        asked = [a for w in h.witnesses for a in ("--ask-witness", w.address)]
        assert await asyncio.to_thread(auditor, ["verify", "--server", h.address, *keys,
                                                 *asked, "--election", "audited-election"]) == 0
        out = capsys.readouterr().out
        assert out.count("is of this history") == 2 and "not confirmed" not in out
        assert await asyncio.to_thread(auditor, ["verify", "--server", h.address, *keys]) == 0
        assert "no witness asked" in capsys.readouterr().out
        # without a pinned bundle it does not run: one line, no traceback
        assert await asyncio.to_thread(auditor, ["verify", "--server", h.address]) == 2
        err = capsys.readouterr().err
        assert err.startswith("--trust FILE is required") and err.count("\n") == 1
        for bad, why in (("missing.txt", "cannot read the trust bundle"),
                         ("ledger.bin", "is not a trust bundle")):
            assert auditor(["verify", "--export", str(path), "--trust", str(tmp_path / bad)]) == 2
            assert why in capsys.readouterr().err
        # a changed byte anywhere in the copy fails: in an entry, a leaf hash, a checkpoint
        good = path.read_bytes()
        for pos in (len(good) // 3, len(good) // 2, len(good) - 40):
            data = bytearray(good)
            data[pos] ^= 0x01
            path.write_bytes(bytes(data))
            assert auditor(["verify", "--export", str(path), *keys]) == 1
            assert "VERIFICATION FAILED" in capsys.readouterr().err
        assert auditor(["verify", "--export", str(path)]) == 2  # an export needs the bundle too
        assert "--trust FILE is required" in capsys.readouterr().err
        with pytest.raises(SystemExit):  # the flags the bundle replaced are gone
            auditor(["verify", "--export", str(path), *keys, "--quorum", "2"])
    finally:
        await h.stop()


async def test_a_well_signed_ledger_with_a_wrong_result_fails(dsn, tmp_path, election, capsys):
    entries = list(election.entries)
    i = election.index_of("result")
    ev = decode_event(entries[i])
    r = decode_result(ev.body)
    forged = r.__class__(tuple(reversed(r.counts)), r.areas, r.participating_owners,
                         r.participating_area, r.quorum_met, r.outcomes, r.guardians)
    entries[i] = encode_event(Event(ElectionEvent.RESULT, ev.subject, encode_result(forged)))
    h, export, keys = await _export(dsn, tmp_path, entries, election.registrars)
    try:
        path = tmp_path / "ledger.bin"
        path.write_bytes(encode_export(export))
        assert auditor(["verify", "--export", str(path), *keys]) == 1
        err = capsys.readouterr().err
        assert f"entry {i}" in err and "not what the shares decrypt" in err
    finally:
        await h.stop()


async def test_the_kept_view_is_created_moved_and_a_fork_of_it_refused(dsn, tmp_path, election,
                                                                      capsys):
    entries = election.entries
    half = len(entries) // 2
    h, early, keys = await _export(dsn, tmp_path, entries[:half], election.registrars)
    try:
        for e in entries[half:-1]:
            await h.ledger.append(e)
        await h.ledger.append_with_receipt(entries[-1], timeout=20)
        late = await fetch_export(h.channel)
        paths = {}
        for name, export in (("early", early), ("late", late)):
            paths[name] = tmp_path / f"{name}.bin"
            paths[name].write_bytes(encode_export(export))
        view = tmp_path / "view.json"

        def run(name: str) -> int:
            return auditor(["verify", "--export", str(paths[name]), *keys, "--view", str(view)])

        # created by the first run, moved by a later export, kept by the same again
        for name, size in (("early", half), ("late", len(entries)), ("late", len(entries))):
            assert run(name) == 0
            assert f"view kept in {view}: size {size}" in capsys.readouterr().out
        # an export older than the view: offline nothing joins them
        assert run("early") == 1
        assert "older than the checkpoint of size" in capsys.readouterr().err
        # a view of another history of this log (its key and its witnesses signed it)
        bundle = decode_bundle((tmp_path / "trust.txt").read_bytes())
        fork = SignedCheckpoint.sign(Checkpoint(late.origin, 3, bytes(32)), h.node.signer)
        forked = LogView(bundle)
        forked.observe(fork.cosign(*(w.signer for w in h.witnesses)).encode())
        view.write_text(forked.to_json())
        assert run("late") == 1
        assert "FORKED VIEW" in capsys.readouterr().err
        assert view.read_text() == forked.to_json()  # a failed run keeps what it had
        view.write_text("not json")
        assert run("late") == 2
        assert "cannot read the view file" in capsys.readouterr().err
    finally:
        await h.stop()
