"""The auditor CLI (clients/auditor.py): a whole election's ledger verifies from an export and
from the server; a tampered copy and a ledger that breaks an election rule exit non-zero."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from clients.auditor import main as auditor
from clients.ledger_export import fetch_export
from crypto.encoding import Event, decode_event, encode_event
from crypto.log.export import encode_export
from crypto.records import ElectionEvent, decode_result, encode_result
from tests.election_ledger import close_and_tally, open_election, vote
from tests.ledger_support import start_log


@pytest.fixture(scope="module")
def election():
    led = open_election("audited-election")
    vote(led, [(0, [0]), (1, [0]), (2, [1]), (3, [2])])
    close_and_tally(led)
    return led


async def _export(dsn, tmp_path, entries):
    h = await start_log(dsn, tmp_path, n_witnesses=2, quorum=2)
    for e in entries[:-1]:
        await h.ledger.append(e)
    await h.ledger.append_with_receipt(entries[-1], timeout=20)
    _ = h.stub
    export = await fetch_export(h.channel)
    keys = ["--log-key", h.node.signer.verifier().vkey(), "--quorum", "2"]
    for w in h.witnesses:
        keys += ["--witness", w.signer.verifier().vkey()]
    return h, export, keys


async def test_verify_an_export_and_the_server_then_refuse_a_tampered_copy(
        dsn, tmp_path, election, capsys):
    h, export, keys = await _export(dsn, tmp_path, election.entries)
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
        # from the server, with the keys pinned and without (then the report says so)
        assert await asyncio.to_thread(auditor, ["verify", "--server", h.address, *keys,
                                                 "--election", "audited-election"]) == 0
        assert "taken from the server" not in capsys.readouterr().out
        assert await asyncio.to_thread(auditor, ["verify", "--server", h.address]) == 0
        assert "taken from the server" in capsys.readouterr().out
        # a changed byte anywhere in the copy fails: in an entry, a leaf hash, a checkpoint
        good = path.read_bytes()
        for pos in (len(good) // 3, len(good) // 2, len(good) - 40):
            data = bytearray(good)
            data[pos] ^= 0x01
            path.write_bytes(bytes(data))
            assert auditor(["verify", "--export", str(path), *keys]) == 1
            assert "VERIFICATION FAILED" in capsys.readouterr().err
        with pytest.raises(SystemExit):  # an export needs pinned keys
            auditor(["verify", "--export", str(path), "--quorum", "2"])
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
    h, export, keys = await _export(dsn, tmp_path, entries)
    try:
        path = tmp_path / "ledger.bin"
        path.write_bytes(encode_export(export))
        assert auditor(["verify", "--export", str(path), *keys]) == 1
        err = capsys.readouterr().err
        assert f"entry {i}" in err and "not what the shares decrypt" in err
    finally:
        await h.stop()
