"""The trust bundle (crypto/log/trust.py) and a client's view of the log (crypto/log/view.py):
one canonical text, a fingerprint, the quorum rule, and forks seen as forks."""

from __future__ import annotations

import pytest

from crypto.errors import ForkedView, QuorumNotMet, UnverifiedNote
from crypto.log import merkle
from crypto.log.checkpoint import Checkpoint, CosignatureSigner, SignedCheckpoint
from crypto.log.note import Ed25519Signer
from crypto.log.trust import MalformedBundle, TrustBundle, decode_bundle, make_bundle
from crypto.log.view import LogView

ORIGIN = "trust.example/log"
LOG = Ed25519Signer.generate(ORIGIN)
WITNESSES = [CosignatureSigner.generate(f"w{i}.example") for i in range(3)]
IDP = bytes(range(32))
REGISTRARS = {"street-office": b"\x03" * 32, "committee": b"\x01" * 32,
              "housing-bureau": b"\x02" * 32}


def bundle(quorum: int = 2, witnesses=WITNESSES, **kw) -> TrustBundle:
    return make_bundle(ORIGIN, LOG.verifier().vkey(), [w.verifier().vkey() for w in witnesses],
                       quorum, IDP, **kw)


def test_the_bundle_round_trips_in_its_one_canonical_text():
    b = bundle().with_guardians("gate-2026", {2: b"\x02" * 32, 1: b"\x01" * 32})
    text = b.encode()
    assert decode_bundle(text) == b and decode_bundle(text).encode() == text
    lines = text.decode().splitlines()
    assert lines[0] == "ownervote-trust-bundle/v1" and lines[1] == f"origin {ORIGIN}"
    assert lines[-2:] == [f"guardian gate-2026 1 {'01' * 32}", f"guardian gate-2026 2 {'02' * 32}"]
    assert b.guardian_fingerprints("gate-2026") == {1: b"\x01" * 32, 2: b"\x02" * 32}
    assert b.guardian_fingerprints("other") == {}
    # the witnesses are sorted whatever order they are given in: one bundle, one text
    assert bundle(witnesses=list(reversed(WITNESSES))).encode() == bundle().encode()


@pytest.mark.parametrize("spoil", [
    lambda t: t.replace(b"quorum 2\n", b"quorum 02\n"),
    lambda t: t.replace(b"quorum 2\n", b"quorum 2 \n"),
    lambda t: t + b"quorum 2\n",
    lambda t: t[:-1],
    lambda t: t.replace(b"ownervote-trust-bundle/v1", b"ownervote-trust-bundle/v2"),
    lambda t: t + b"registrar x\n",
    lambda t: b"\n".join(sorted(t.split(b"\n")[1:-1])) + b"\n",  # reordered lines
    lambda t: t.replace(b"identity-provider 00", b"identity-provider 0"),
    lambda t: b"\xff" + t,
])
def test_anything_but_the_canonical_text_is_refused(spoil):
    text = bundle().encode()
    with pytest.raises(MalformedBundle):
        decode_bundle(spoil(text))


def test_registrar_lines_sit_after_the_identity_provider_sorted_by_name():
    b = bundle(registrars=REGISTRARS).with_guardians("gate-2026", {1: b"\x01" * 32})
    text = b.encode()
    assert decode_bundle(text) == b and decode_bundle(text).encode() == text
    lines = text.decode().splitlines()
    at = lines.index(f"identity-provider {IDP.hex()}")
    assert lines[at + 1:at + 4] == [f"registrar committee {'01' * 32}",
                                    f"registrar housing-bureau {'02' * 32}",
                                    f"registrar street-office {'03' * 32}"]
    assert lines[at + 4].startswith("guardian ")
    assert list(b.registrars) == ["committee", "housing-bureau", "street-office"]
    # one bundle, one text, whatever order the registrars are given or added in
    added = bundle().with_registrars({"street-office": b"\x03" * 32}).with_registrars(
        {"committee": b"\x01" * 32, "housing-bureau": b"\x02" * 32})
    assert added.encode() == bundle(registrars=REGISTRARS).encode()
    assert added.with_guardians("gate-2026", {1: b"\x01" * 32}).encode() == text
    # a registrar added again under its name replaces its key; the guardians stay
    moved = b.with_registrars({"committee": b"\x04" * 32})
    assert moved.registrars["committee"] == b"\x04" * 32 and moved.guardians == b.guardians
    assert moved.fingerprint() != b.fingerprint()
    assert bundle(registrars=REGISTRARS).fingerprint() != bundle().fingerprint()


@pytest.mark.parametrize("spoil", [
    lambda t: t.replace(b"registrar committee", b"registrar Committee"),
    lambda t: t.replace(b"registrar committee", b"registrar -committee"),
    lambda t: t.replace(b"registrar committee ", b"registrar committee  "),
    lambda t: t.replace(b"registrar committee " + b"01" * 32, b"registrar committee"),
    lambda t: t.replace(b"registrar committee " + b"01" * 32,
                        b"registrar committee " + b"01" * 31),
    lambda t: t.replace(b"registrar committee " + b"01" * 32,
                        b"registrar committee " + b"AB" * 32),
    lambda t: t.replace(b"registrar committee " + b"01" * 32,
                        b"registrar committee " + b"01" * 32 + b" extra"),
    lambda t: t.replace(b"registrar housing-bureau", b"registrar committee"),  # twice
    lambda t: t.replace(b"registrar street-office " + b"03" * 32,
                        b"registrar street-office " + b"01" * 32),  # a key twice
    lambda t: t.replace(b"registrar committee", b"registrar zz"),  # out of order
    lambda t: t.replace(b"registrar street-office " + b"03" * 32 + b"\n", b"")
    + b"registrar street-office " + b"03" * 32 + b"\n",  # after the guardian lines
    lambda t: t + b"registrar bank " + b"09" * 32 + b"\n",
])
def test_a_bad_registrar_line_is_refused(spoil):
    text = bundle(registrars=REGISTRARS).with_guardians("gate-2026",
                                                        {1: b"\x01" * 32}).encode()
    decode_bundle(text)
    with pytest.raises(MalformedBundle):
        decode_bundle(spoil(text))


def test_a_registrar_is_a_name_and_a_32_byte_key():
    for bad in ({"Committee": b"\x01" * 32}, {"committee": b"\x01" * 31},
                {"a": b"\x01" * 32, "b": b"\x01" * 32}, {"x" * 65: b"\x01" * 32}):
        with pytest.raises(MalformedBundle):
            bundle(registrars=bad)
        with pytest.raises(MalformedBundle):
            bundle().with_registrars(bad)


def test_the_quorum_must_be_a_strict_majority_unless_the_bundle_says_development():
    for quorum in (0, 1):
        with pytest.raises(MalformedBundle, match="strict majority"):
            bundle(quorum)
    with pytest.raises(MalformedBundle, match="strict majority"):
        bundle(2, WITNESSES + [CosignatureSigner.generate("w3.example")])  # 2 of 4
    with pytest.raises(MalformedBundle):
        bundle(4)
    # a deployment's bundle turned into a development one is another bundle, and looks it
    assert decode_bundle(bundle().encode() + b"development\n").fingerprint().startswith("DEV-")
    dev = bundle(0, [], development=True)
    assert decode_bundle(dev.encode()) == dev and dev.fingerprint().startswith("DEV-")
    with pytest.raises(MalformedBundle, match="named for the origin"):
        make_bundle("other.example/log", LOG.verifier().vkey(), [], 0, IDP, development=True)


def test_the_fingerprint_is_short_and_changes_with_every_byte():
    b = bundle()
    fp = b.fingerprint()
    assert len(fp) == 39 and fp.count("-") == 7 and fp == fp.upper()
    assert bundle().fingerprint() == fp
    assert bundle(3).fingerprint() != fp
    assert b.with_guardians("e", {1: bytes(32)}).fingerprint() != fp


def _checkpoint(entries: list[bytes], size: int, cosigners=WITNESSES[:2]) -> bytes:
    root = merkle.root_from_leaves([merkle.leaf_hash(e) for e in entries[:size]])
    return SignedCheckpoint.sign(Checkpoint(ORIGIN, size, root), LOG).cosign(*cosigners).encode()


def _consistency(entries: list[bytes], old: int, new: int) -> list[bytes]:
    return merkle.consistency_proof([merkle.leaf_hash(e) for e in entries[:new]], old)


def test_a_view_keeps_the_largest_checkpoint_and_needs_a_proof_to_move():
    entries = [bytes([i]) * 8 for i in range(20)]
    view = LogView(bundle())
    view.observe(_checkpoint(entries, 5))
    assert view.size == 5
    view.observe(_checkpoint(entries, 12), _consistency(entries, 5, 12))
    assert view.size == 12
    view.observe(_checkpoint(entries, 8), _consistency(entries, 8, 12))  # an older receipt
    assert view.size == 12
    view.observe(_checkpoint(entries, 12))  # the same again needs no proof
    with pytest.raises(ForkedView):  # a larger one without its proof
        view.observe(_checkpoint(entries, 15))
    again = LogView.from_json(bundle(), view.to_json())
    assert (again.size, again.root) == (12, view.root)


def test_a_fork_is_seen_as_a_fork():
    honest = [bytes([i]) * 8 for i in range(20)]
    forked = honest[:6] + [b"another joint key"] + honest[7:]
    view = LogView(bundle())
    view.observe(_checkpoint(honest, 10))
    with pytest.raises(ForkedView):
        view.observe(_checkpoint(forked, 14), _consistency(forked, 10, 14))
    with pytest.raises(ForkedView, match="different roots"):
        view.observe(_checkpoint(forked, 10))
    assert view.size == 10  # nothing of the fork was kept


def test_a_view_trusts_only_the_bundles_quorum_and_log():
    entries = [b"a", b"b", b"c"]
    view = LogView(bundle())
    with pytest.raises(QuorumNotMet):
        view.observe(_checkpoint(entries, 3, cosigners=WITNESSES[:1]))
    stranger = CosignatureSigner.generate("w0.example")  # a witness key the bundle does not pin
    with pytest.raises(QuorumNotMet):
        view.observe(_checkpoint(entries, 3, cosigners=[stranger, WITNESSES[1]]))
    fake_log = Ed25519Signer.generate(ORIGIN)  # the origin's name, another key
    note = SignedCheckpoint.sign(Checkpoint(ORIGIN, 3, merkle.root_from_leaves(
        [merkle.leaf_hash(e) for e in entries])), fake_log).cosign(*WITNESSES[:2]).encode()
    with pytest.raises(UnverifiedNote):
        view.observe(note)
    assert view.size == 0
