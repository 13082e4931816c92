"""The election as the co-signed ledger proves it (crypto/election_view.py, docs/protocol.md
§13.3), without a server: every record proven against one checkpoint, the guardians' keys
checked against the bundle's fingerprints, the registrars and the identity provider the
definition names against the bundle's, and a development log's checkpoints refused by a
deployment's bundle (§13.1)."""

from __future__ import annotations

import pytest

from crypto.dkg import guardian_fingerprint
from crypto.election_audit import ElectionViolation
from crypto.election_view import check_registrars, election_from_records
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


def registrar_pins(led) -> dict[str, bytes]:
    return {r.name: r.key for r in led.definition.registrars}


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


def test_the_registrars_and_the_identity_provider_are_the_bundles(led):
    """Each registrar the definition names is one the bundle pins, with the same key, and the
    definition's identity provider is the bundle's: a server cannot name registrars (or an
    identity provider) of its own making. The bundle may pin more registrars (of other
    elections)."""
    cp, entries = proven(led.entries)
    idp = led.definition.identity_provider
    vkeys = [w.verifier().vkey() for w in WITNESSES]
    bundle = make_bundle(ORIGIN, LOG.verifier().vkey(), vkeys, 2, idp,
                         registrars={**registrar_pins(led), "another-bank": b"\x09" * 32})
    election, audit = election_from_records(led.election_id, cp, entries, pins(led),
                                            registrars=bundle.registrars,
                                            identity_provider=bundle.identity_provider)
    assert sorted(election.issuers) == [0, 1, 2] and election.issuer_set.threshold == 2
    assert {r: {w: k.spki for w, k in ks.items()} for r, ks in election.issuers.items()} == \
        {r: {w: k.spki for w, k in ks.items()} for r, ks in led.issuers.keys.items()}
    name = led.definition.registrars[1].name
    unpinned = {n: k for n, k in registrar_pins(led).items() if n != name}
    rekeyed = {**registrar_pins(led), name: b"\x09" * 32}
    for registrars, identity_provider, text in (
            (unpinned, idp, repr(name)),  # the bundle does not know it
            (rekeyed, idp, repr(name)),  # it knows another key under that name
            ({}, idp, "registrar"),
            (registrar_pins(led), bytes(32), "identity provider")):  # another provider
        with pytest.raises(UnpinnedKey, match=text):
            election_from_records(led.election_id, cp, entries, pins(led),
                                  registrars=registrars, identity_provider=identity_provider)
        with pytest.raises(UnpinnedKey):
            check_registrars(audit.definition, registrars, identity_provider)
    # without the bundle's identity provider, only the registrars are checked
    check_registrars(audit.definition, registrar_pins(led), None)
    with pytest.raises(UnpinnedKey):
        check_registrars(audit.definition, unpinned, None)


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
