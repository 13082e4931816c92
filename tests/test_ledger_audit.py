"""Export the whole log to one file; the offline audit accepts it and fails on any changed byte."""

from __future__ import annotations

import asyncio

import pytest

from clients.ledger import main as ledger_cli
from clients.ledger_export import fetch_export
from crypto.errors import DecodeError
from crypto.log.audit import AuditFailure, audit
from crypto.log.export import decode_export, encode_export
from crypto.log.note import Ed25519Signer
from crypto.log.trust import decode_bundle, make_bundle
from tests.ledger_support import start_log


@pytest.fixture
async def exported(dsn, tmp_path):
    h = await start_log(dsn, tmp_path, n_witnesses=3, quorum=2, max_batch=4)
    for k in range(4):
        await asyncio.gather(*(h.ledger.append(b"event %d.%d" % (k, i)) for i in range(6)))
    await h.ledger.wait_cosigned(23, timeout=10)
    _ = h.stub  # opens the channel
    export = await fetch_export(h.channel)
    policy = (h.node.signer.verifier(), [w.signer.verifier() for w in h.witnesses], 2)
    yield h, export, policy
    await h.stop()


async def test_audit_accepts_the_export_and_names_a_tampered_entry(exported):
    h, export, (log_v, wits, quorum) = exported
    assert len(export.entries) == 24 and len(export.checkpoints) >= 2
    report = audit(decode_export(encode_export(export)), log_v, wits, quorum)
    assert report.entries == 24 and report.root == (await h.ledger.store.head()).root
    tampered = list(export.entries)
    tampered[13] = b"event 2.1 (changed)"
    with pytest.raises(AuditFailure) as exc:
        audit(type(export)(export.origin, tuple(tampered), export.leaf_hashes,
                           export.checkpoints), log_v, wits, quorum)
    assert exc.value.entry == 13


async def test_any_changed_byte_fails_the_audit(exported):
    _, export, (log_v, wits, quorum) = exported
    data = encode_export(export)
    for pos in range(len(data)):
        for flip in ((0x01, 0x80) if pos % 5 == 0 else (0x01,)):
            bad = bytearray(data)
            bad[pos] ^= flip
            with pytest.raises((AuditFailure, DecodeError)):
                audit(decode_export(bytes(bad)), log_v, wits, quorum)


async def test_audit_refuses_a_policy_it_cannot_meet_and_other_keys(exported):
    h, export, (log_v, wits, quorum) = exported
    with pytest.raises(AuditFailure):
        audit(export, log_v, wits, 4)  # more witnesses than co-signed
    with pytest.raises(AuditFailure):
        audit(export, Ed25519Signer.generate(export.origin).verifier(), wits, quorum)
    truncated = type(export)(export.origin, export.entries + (b"unattested",),
                             export.leaf_hashes + (bytes(32),), export.checkpoints)
    with pytest.raises(AuditFailure):
        audit(truncated, log_v, wits, quorum)


async def test_cli_export_and_audit(exported, tmp_path, capsys):
    h, _, _ = exported
    out = tmp_path / "ledger.export"
    trust = ["--trust", str(h.write_bundle(tmp_path / "trust.txt"))]
    await asyncio.to_thread(ledger_cli, ["export", "--server", h.address, "--out", str(out)])
    assert ledger_cli(["audit", str(out), *trust]) == 0
    assert "audit OK" in capsys.readouterr().out
    # only a pinned bundle: none, or the keys of another log, is refused in one line
    assert ledger_cli(["audit", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("--trust FILE is required") and err.count("\n") == 1
    pinned = decode_bundle((tmp_path / "trust.txt").read_bytes())
    impostor = make_bundle(pinned.origin, Ed25519Signer.generate(pinned.origin).verifier().vkey(),
                           [w.vkey() for w in pinned.witnesses], 2, bytes(32))
    (tmp_path / "other.txt").write_bytes(impostor.encode())  # the origin, another log key
    assert ledger_cli(["audit", str(out), "--trust", str(tmp_path / "other.txt")]) == 1
    assert "AUDIT FAILED" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # the flags the bundle replaced are gone
        ledger_cli(["audit", str(out), "--server", h.address])
    assert ledger_cli(["audit", str(tmp_path / "missing"), *trust]) == 2
    assert "cannot read" in capsys.readouterr().err
    data = bytearray(out.read_bytes())
    data[len(data) // 2] ^= 0x04
    out.write_bytes(bytes(data))
    assert ledger_cli(["audit", str(out), *trust]) == 1
    assert "AUDIT FAILED" in capsys.readouterr().err
