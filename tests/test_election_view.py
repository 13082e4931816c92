"""The election as the co-signed ledger proves it (crypto/election_view.py, docs/protocol.md
§13.3), without a server: every record proven against one checkpoint, the guardians' keys
checked against the bundle's fingerprints, and a development log's checkpoints refused by a
deployment's bundle (§13.1)."""

from __future__ import annotations

import pytest

from crypto.dkg import guardian_fingerprint
from crypto.election_audit import ElectionViolation
from crypto.election_view import election_from_records
from crypto.errors import InvalidProof, InvalidSignature, UnpinnedKey
from crypto.log import merkle
from crypto.log.checkpoint import Checkpoint, CosignatureSigner, SignedCheckpoint
from crypto.log.note import Ed25519Signer
from crypto.log.receipt import ProvenEntry
from crypto.log.trust import DEVELOPMENT_EXTENSION, make_bundle
from crypto.records import ElectionState
from tests.election_ledger import open_election

ORIGIN = "view.example/log"
LOG = Ed25519Signer.generate(ORIGIN)
WITNESSES = [CosignatureSigner.generate(f"w{i}.example") for i in range(3)]


@pytest.fixture(scope="module")
def led():
    return open_election("view-2026")


def proven(entries: list[bytes]) -> tuple[Checkpoint, list[ProvenEntry]]:
    leaves = [merkle.leaf_hash(e) for e in entries]
    cp = Checkpoint(ORIGIN, len(leaves), merkle.root_from_leaves(leaves))
    return cp, [ProvenEntry(i, e, tuple(merkle.inclusion_proof(leaves, i)))
                for i, e in enumerate(entries)]


def pins(led) -> dict[int, bytes]:
    return {k.index: guardian_fingerprint(led.election_id, k) for k in led.dkg.publics}


def test_the_election_is_rebuilt_from_proven_records_with_pinned_guardians(led):
    cp, entries = proven(led.entries)
    election, audit = election_from_records(led.election_id, cp, entries, pins(led))
    assert audit.state is ElectionState.OPEN
    assert election.context.hash == led.context.hash  # the joint key the ceremony gives


def test_a_guardian_key_the_bundle_does_not_pin_is_refused(led):
    cp, entries = proven(led.entries)
    wrong = {**pins(led), 2: bytes(32)}
    with pytest.raises(UnpinnedKey, match="guardian 2"):
        election_from_records(led.election_id, cp, entries, wrong)
    missing = {i: fp for i, fp in pins(led).items() if i != 3}
    with pytest.raises(UnpinnedKey, match=r"\[3\]"):  # from READY on, every guardian pinned
        election_from_records(led.election_id, cp, entries, missing)
    # a reader of the state only: the pinned guardians must still match
    election_from_records(led.election_id, cp, entries, missing, require_guardians=False)
    with pytest.raises(UnpinnedKey):
        election_from_records(led.election_id, cp, entries, wrong, require_guardians=False)


def test_a_record_not_in_the_checkpoint_or_out_of_order_is_refused(led):
    cp, entries = proven(led.entries)
    e = entries[5]
    tampered = ProvenEntry(e.index, e.entry[:-1] + bytes([e.entry[-1] ^ 1]), e.inclusion_proof)
    with pytest.raises(InvalidProof):
        election_from_records(led.election_id, cp, [*entries[:5], tampered, *entries[6:]],
                              pins(led))
    with pytest.raises(ElectionViolation, match="ledger order"):
        swapped = [*entries[:3], entries[4], entries[3], *entries[5:]]  # two guardian keys
        election_from_records(led.election_id, cp, swapped, pins(led))
    with pytest.raises(ElectionViolation):  # another election's records
        election_from_records("another-2026", cp, entries, pins(led))


def test_a_deployment_bundle_refuses_a_development_logs_checkpoint():
    vkeys = [w.verifier().vkey() for w in WITNESSES]
    deployment = make_bundle(ORIGIN, LOG.verifier().vkey(), vkeys, 2, bytes(32))
    dev = make_bundle(ORIGIN, LOG.verifier().vkey(), vkeys, 2, bytes(32), development=True)
    cp = Checkpoint(ORIGIN, 1, merkle.leaf_hash(b"x"), (DEVELOPMENT_EXTENSION,))
    note = SignedCheckpoint.sign(cp, LOG).cosign(*WITNESSES).encode()  # even fully co-signed
    with pytest.raises(InvalidSignature, match="development"):
        deployment.open_checkpoint(note)
    assert dev.open_checkpoint(note).size == 1
