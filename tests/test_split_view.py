"""Split-view detection (crypto/log/split_view.py) on hand-built trees: the honest answers pass,
every answer that is not its witness's own is refused, every checkpoint of another history is a
split view naming the witness and the sizes; and a kept view moves only along one history."""

from __future__ import annotations

import dataclasses

import pytest

from crypto.errors import ForkedView, SplitView, WitnessRefused
from crypto.log import merkle
from crypto.log.checkpoint import Checkpoint, CosignatureSigner, SignedCheckpoint
from crypto.log.export import LedgerExport
from crypto.log.note import Ed25519Signer, NoteSignature
from crypto.log.split_view import (
    WitnessAnswer,
    check_witnesses,
    observe_export,
    open_answer,
)
from crypto.log.trust import make_bundle
from crypto.log.view import LogView

ORIGIN = "split.example/log"
LOG = Ed25519Signer.generate(ORIGIN)
# validating witnesses: the bundle pins the validation key, the plain key rides along
PLAIN = [CosignatureSigner.generate(f"w{i}.example") for i in range(3)]
VALIDATED = [CosignatureSigner.generate(f"w{i}.example/validated") for i in range(3)]
BUNDLE = make_bundle(ORIGIN, LOG.verifier().vkey(), [v.verifier().vkey() for v in VALIDATED], 2,
                     bytes(32))
HONEST = [b"entry %d" % i for i in range(20)]
FORKED = HONEST[:6] + [b"another joint key"] + HONEST[7:]


def leaves(entries):
    return [merkle.leaf_hash(e) for e in entries]


def checkpoint(entries, size: int, *cosigners, log=LOG) -> SignedCheckpoint:
    cp = Checkpoint(ORIGIN, size, merkle.root_from_leaves(leaves(entries[:size])))
    return SignedCheckpoint.sign(cp, log).cosign(*cosigners)


def export(size: int = 12, entries=HONEST) -> LedgerExport:
    note = checkpoint(entries, size, VALIDATED[0], VALIDATED[1]).encode()
    return LedgerExport(ORIGIN, tuple(entries[:size]), tuple(leaves(entries[:size])), (note,))


def answer(i: int, size: int, entries=HONEST, *, cosigners=None, source=None) -> WitnessAnswer:
    """Witness i's honest answer (its two keys, its two lines), unless told other cosigners."""
    signers = (PLAIN[i], VALIDATED[i]) if cosigners is None else cosigners
    return WitnessAnswer(source or f"10.0.0.{i}:7000",
                         (PLAIN[i].verifier().vkey(), VALIDATED[i].verifier().vkey()),
                         checkpoint(entries, size, *signers).encode(), size)


def proof(entries, old: int, new: int) -> list[bytes]:
    return merkle.consistency_proof(leaves(entries[:new]), old)


def test_honest_witnesses_behind_at_and_ahead_of_the_export_confirm_it():
    got = check_witnesses(export(12), BUNDLE, [answer(0, 7), answer(1, 12), answer(2, 17)],
                          {17: proof(HONEST, 12, 17)})
    assert [(c.witness, c.size, c.by_proof) for c in got] == [
        ("w0.example/validated", 7, False), ("w1.example/validated", 12, False),
        ("w2.example/validated", 17, True)]
    assert got[0].source == "10.0.0.0:7000"
    # a plain witness (the bundle pins its only key) answers with its one line
    plain = make_bundle(ORIGIN, LOG.verifier().vkey(), [p.verifier().vkey() for p in PLAIN], 2,
                        bytes(32))
    one = WitnessAnswer("w0", (PLAIN[0].verifier().vkey(),),
                        checkpoint(HONEST, 12, PLAIN[0]).encode(), 12)
    assert open_answer(plain, one)[0] == "w0.example"
    assert check_witnesses(export(12), BUNDLE, [], {}) == ()


def test_a_witness_that_saw_another_history_is_a_split_view_naming_it_and_the_sizes():
    with pytest.raises(SplitView) as exc:  # behind the export: another root at its size
        check_witnesses(export(12), BUNDLE, [answer(0, 12), answer(1, 9, FORKED)], {})
    assert (exc.value.witness, exc.value.source, exc.value.witness_size, exc.value.log_size) == (
        "w1.example/validated", "10.0.0.1:7000", 9, 12)
    assert "split view" in str(exc.value) and "first 9 entries" in str(exc.value)
    with pytest.raises(SplitView, match="size 12, the log downloaded has size 12"):
        check_witnesses(export(12), BUNDLE, [answer(2, 12, FORKED)], {})
    # ahead of the export: the log cannot give a proof, or gives one that does not join them
    with pytest.raises(SplitView, match="gives no consistency proof") as exc:
        check_witnesses(export(5), BUNDLE, [answer(2, 14, FORKED)], {14: None})
    assert (exc.value.witness_size, exc.value.log_size) == (14, 5)
    with pytest.raises(SplitView, match="gives no consistency proof"):
        check_witnesses(export(5), BUNDLE, [answer(2, 14, FORKED)], {})
    with pytest.raises(SplitView, match="does not join them"):
        check_witnesses(export(8), BUNDLE, [answer(2, 14, FORKED)], {14: proof(HONEST, 8, 14)})
    with pytest.raises(SplitView, match="does not join them"):  # the fork's own proof
        check_witnesses(export(8), BUNDLE, [answer(2, 14, FORKED)], {14: proof(FORKED, 8, 14)})
    # a fork after the export's size joins it: the witness saw a later history of the same log
    check_witnesses(export(5), BUNDLE, [answer(2, 14, FORKED)], {14: proof(FORKED, 5, 14)})


def _spoiled():
    stranger = CosignatureSigner.generate("w0.example/validated")  # a pinned name, another key
    fake_log = Ed25519Signer.generate(ORIGIN)
    good = answer(0, 12)
    yield "outside the trust bundle", dataclasses.replace(
        good, keys=(stranger.verifier().vkey(),),
        signed_note=checkpoint(HONEST, 12, stranger).encode())
    yield "two witnesses", dataclasses.replace(
        good, keys=(VALIDATED[0].verifier().vkey(), VALIDATED[1].verifier().vkey()),
        signed_note=checkpoint(HONEST, 12, VALIDATED[0], VALIDATED[1]).encode())
    # witness 0's keys, witness 1's checkpoint (relayed), or witness 1's line beside its own
    yield "cosignature of witness w1.example/validated", answer(0, 12, cosigners=[VALIDATED[1]])
    yield "cosignature of witness w1.example/validated", answer(
        0, 12, cosigners=[VALIDATED[0], VALIDATED[1]])
    yield "a line of a key outside the trust bundle", answer(
        0, 12, cosigners=[VALIDATED[0], stranger.__class__.generate("unknown.example")])
    yield "no cosignature of its key", answer(0, 12, cosigners=[PLAIN[0]])
    yield "a line of a key outside the trust bundle", dataclasses.replace(
        good, signed_note=checkpoint(HONEST, 12, VALIDATED[0], log=fake_log).encode())
    only_witness = SignedCheckpoint(checkpoint(HONEST, 12).checkpoint,
                                    (VALIDATED[0].cosign(checkpoint(HONEST, 12).checkpoint),))
    yield "not signed by the log's key", dataclasses.replace(
        good, signed_note=only_witness.encode())
    signed = checkpoint(HONEST, 12, VALIDATED[0])
    bad = signed.signatures[-1]
    forged = dataclasses.replace(signed, signatures=signed.signatures[:-1] + (NoteSignature(
        bad.name, bad.key_id, bad.signature[:-1] + bytes([bad.signature[-1] ^ 1])),))
    yield "does not verify", dataclasses.replace(good, signed_note=forged.encode())
    other = Ed25519Signer.generate("other.example/log")
    elsewhere = SignedCheckpoint.sign(Checkpoint("other.example/log", 3, bytes(32)), other)
    yield "outside the trust bundle", dataclasses.replace(  # another log's signature line
        good, signed_note=elsewhere.cosign(VALIDATED[0]).encode())
    own_origin = SignedCheckpoint.sign(Checkpoint("other.example/log", 3, bytes(32)), LOG)
    yield "not of 'split.example/log'", dataclasses.replace(
        good, signed_note=own_origin.cosign(VALIDATED[0]).encode(), tree_size=3)
    yield "says size 11", dataclasses.replace(good, tree_size=11)
    yield "malformed answer", dataclasses.replace(good, signed_note=b"not a note")
    yield "malformed answer", dataclasses.replace(good, keys=(LOG.verifier().vkey(),))


@pytest.mark.parametrize(("match", "bad"), list(_spoiled()))
def test_an_answer_that_is_not_its_witness_own_checkpoint_is_refused(match, bad):
    with pytest.raises(WitnessRefused, match=match) as exc:
        check_witnesses(export(12), BUNDLE, [answer(1, 12), bad], {})
    assert exc.value.source == bad.source


def test_one_witness_answers_once():
    with pytest.raises(WitnessRefused, match="answered at 10.0.0.0:7000 already"):
        check_witnesses(export(12), BUNDLE, [answer(0, 12), answer(0, 7, source="elsewhere")],
                        {})


def test_a_kept_view_moves_along_the_export_only():
    view = LogView(BUNDLE)
    observe_export(view, export(5))  # the first run: kept
    assert view.size == 5
    observe_export(view, export(12))  # later: the export's own entries prove the growth
    assert view.size == 12
    with pytest.raises(ForkedView):
        observe_export(LogView.from_json(BUNDLE, view.to_json()), export(14, FORKED))
    with pytest.raises(ForkedView, match="older than the checkpoint of size 12"):
        observe_export(view, export(8))  # an older export, and no proof from the log
    observe_export(view, export(8), proof(HONEST, 8, 12))
    with pytest.raises(ForkedView):
        observe_export(view, export(8, FORKED), proof(FORKED, 8, 12))
    assert view.size == 12
