"""The one protobuf mapping (ownervote.v1.wire): every message ↔ domain pair round-trips, the
enums map by name both ways, and what does not map — or a reply inconsistent in itself — is
refused naming the field."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction

import pytest
from ownervote.v1 import election_pb2, wire

from crypto.attestation import DemoIdentityProvider
from crypto.ballot import Contest
from crypto.errors import InvalidProof
from crypto.group import base_mul, encode_point
from crypto.log.checkpoint import CosignatureSigner
from crypto.log.note import Ed25519Signer
from crypto.log.receipt import Receipt
from crypto.public_election import PublicElection
from crypto.records import (
    DecryptionSharesRecord,
    DefinitionRecord,
    ElectionState,
    ResultOutcome,
    ResultRecord,
    RulePreset,
    RuleRecord,
    preset_rule,
)
from crypto.threshold import partial_decrypt
from tests.support.dkg import run_dkg
from tests.support.registrars import Registrars, rsa_key

ROLL_HASH = bytes(range(32))
REGISTRARS = Registrars("gate-2026", [8950])  # committee, housing-bureau, street-office; k = 2


REFERENDUM, MAJOR = Contest.referendum(), preset_rule(RulePreset.MAJOR)


def _definition(contest: Contest = REFERENDUM, rule: RuleRecord = MAJOR,
                **kw) -> DefinitionRecord:
    kw = {"registrars": REGISTRARS.refs, "registrar_threshold": 2,
          "identity_provider": REGISTRARS.identity_provider, **kw}
    return DefinitionRecord("gate-2026", "sunrise/00aa", ROLL_HASH, "Repair the gate", contest,
                            rule, 1_900_000_000, 1_900_086_400, 3, 2, 1_899_990_000, **kw)


def test_the_enums_map_by_name_both_ways_and_unknown_numbers_are_refused():
    for s in ElectionState:
        assert election_pb2.ElectionState.Name(wire.state_pb(s)) == f"ELECTION_STATE_{s.name}"
        assert wire.state("state", wire.state_pb(s)) is s
    for o in ResultOutcome:
        assert election_pb2.Outcome.Name(wire.outcome_pb(o)) == f"OUTCOME_{o.name}"
        assert wire.outcome("outcome", wire.outcome_pb(o)) is o
    for p in RulePreset:
        assert election_pb2.RulePreset.Name(wire.preset_pb(p)) == f"RULE_PRESET_{p.name}"
    for bad in (0, 8):
        with pytest.raises(wire.WireError) as err:
            wire.state("election.state", bad)
        assert err.value.field == "election.state"
    with pytest.raises(wire.WireError):
        wire.outcome("options[0].outcome", 0)


@pytest.mark.parametrize("d", [
    _definition(),
    _definition(Contest.committee(["Li", "Wang", "Zhao"], 1, 2), preset_rule(RulePreset.ORDINARY)),
    _definition(rule=RuleRecord(RulePreset.EXPLICIT, ((1, 2), (3, 5), (3, 5), (1, 2)), True)),
    _definition(registrar_threshold=3),
    _definition(registrars=REGISTRARS.refs[:1], registrar_threshold=1, allow_weak_threshold=True),
])
def test_definitions_round_trip(d):
    pb = wire.definition_pb(d)
    assert [(r.name, r.key) for r in pb.registrars] == [(r.name, r.key) for r in d.registrars]
    assert (pb.registrar_threshold, pb.identity_provider_key) == (d.registrar_threshold,
                                                                  d.identity_provider)
    assert wire.definition(pb, ROLL_HASH) == d


def test_an_administrator_may_leave_the_identity_provider_to_the_server():
    """CreateElection may leave identity_provider_key empty: the server fills in its own; a
    key given is kept (and the server's then ignored)."""
    d = _definition()
    pb = wire.definition_pb(d)
    pb.identity_provider_key = b""
    with pytest.raises(wire.WireError) as err:
        wire.definition(pb, ROLL_HASH)
    assert err.value.field == "definition.identity_provider_key"
    assert wire.definition(pb, ROLL_HASH, identity_provider=d.identity_provider) == d
    assert wire.definition(wire.definition_pb(d), ROLL_HASH,
                           identity_provider=bytes(32)).identity_provider == d.identity_provider


def _ref(pb, i: int, name: str | None = None, key: bytes | None = None) -> None:
    if name is not None:
        pb.registrars[i].name = name
    if key is not None:
        pb.registrars[i].key = key


def test_a_preset_takes_its_fractions_from_art278_whatever_the_message_says():
    pb = wire.definition_pb(_definition())
    pb.rule.approval_area.numerator = 1
    pb.rule.approval_area.denominator = 10
    assert wire.definition(pb, ROLL_HASH).rule == preset_rule(RulePreset.MAJOR)


@pytest.mark.parametrize("spoil, field", [
    (lambda d: setattr(d, "election_id", "Not An Id"), "definition.election_id"),
    (lambda d: setattr(d, "motion", ""), "definition.motion"),
    (lambda d: d.contest.options.append("maybe"), "definition.contest.options"),
    (lambda d: setattr(d.contest, "kind", 0), "definition.contest.kind"),
    (lambda d: setattr(d.rule, "preset", 0), "definition.rule.preset"),
    (lambda d: (setattr(d.rule, "preset", election_pb2.RULE_PRESET_EXPLICIT),
                setattr(d.rule.approval_area, "denominator", 0)),
     "definition.rule.approval_area"),
    (lambda d: (setattr(d.rule, "preset", election_pb2.RULE_PRESET_EXPLICIT),
                setattr(d.rule, "strict", False),
                setattr(d.rule.approval_area, "numerator", 0)), "definition.rule"),
    (lambda d: d.ClearField("open_time"), "definition.open_time"),
    (lambda d: setattr(d, "threshold", 4), "definition.threshold"),
    (lambda d: setattr(d, "roll_id", ""), "definition"),
    # the registrars: 1..16, sorted by name, each once, well named, 32-byte keys, distinct keys
    (lambda d: d.ClearField("registrars"), "definition.registrars"),
    (lambda d: (_ref(d, 0, "zzz")), "definition.registrars"),  # out of order
    (lambda d: (_ref(d, 1, d.registrars[0].name)), "definition.registrars"),  # twice
    (lambda d: d.registrars.extend([election_pb2.RegistrarRef(name=f"z{i:02}", key=bytes([i]) * 32)
                                    for i in range(14)]), "definition.registrars"),  # 17
    (lambda d: _ref(d, 1, "Housing Bureau"), "definition.registrars[1]"),
    (lambda d: _ref(d, 2, "-street"), "definition.registrars[2]"),
    (lambda d: _ref(d, 0, key=bytes(31)), "definition.registrars[0]"),
    (lambda d: _ref(d, 2, key=d.registrars[0].key), "definition"),  # two share a key
    # k: 1 <= k <= registrars, and k = 1 only with allow_weak_threshold
    (lambda d: setattr(d, "registrar_threshold", 0), "definition.registrar_threshold"),
    (lambda d: setattr(d, "registrar_threshold", 4), "definition.registrar_threshold"),
    (lambda d: setattr(d, "registrar_threshold", 1), "definition.registrar_threshold"),
    (lambda d: setattr(d, "identity_provider_key", bytes(31)),
     "definition.identity_provider_key"),
])
def test_a_definition_that_does_not_map_is_refused_naming_its_field(spoil, field):
    pb = wire.definition_pb(_definition())
    spoil(pb)
    with pytest.raises(wire.WireError) as err:
        wire.definition(pb, ROLL_HASH)
    assert err.value.field == field


def test_a_weak_registrar_threshold_is_refused_as_weak():
    pb = wire.definition_pb(_definition())
    pb.registrar_threshold = 1
    with pytest.raises(wire.WireError) as err:
        wire.definition(pb, ROLL_HASH)
    assert err.value.reason == "WEAK_THRESHOLD"
    pb.allow_weak_threshold = True
    assert wire.definition(pb, ROLL_HASH).weak_threshold


def _published(state=ElectionState.OPEN) -> PublicElection:
    """Registrars 0 and 2 published their keys (of the one class); registrar 1 none yet."""
    return PublicElection(_definition(), state, 8950 * 3, 3, base_mul(7),
                          {r: {8950: REGISTRARS.issuer(r, 8950)} for r in (0, 2)}, {8950: 3})


def test_the_published_election_round_trips_and_its_hash_is_recomputed():
    e = _published()
    pb = wire.election_pb(e)
    assert pb.election_hash == e.context.hash and pb.joint_public_key == encode_point(base_mul(7))
    assert [(k.registrar, k.weight) for k in pb.issuer_keys] == [(0, 8950), (2, 8950)]
    back = wire.election(pb)
    assert back.definition == e.definition and back.state is ElectionState.OPEN
    assert back.context.hash == e.context.hash
    assert {r: {w: k.spki for w, k in ks.items()} for r, ks in back.issuers.items()} == \
        {r: {8950: REGISTRARS.issuer(r, 8950).spki} for r in (0, 2)}
    assert back.issuer_set.threshold == 2 and back.weights == (8950,)
    assert all(k.registrar == r for r, ks in back.issuers.items() for k in ks.values())
    assert back.class_owners == {8950: 3} and back.total_area == e.total_area
    draft = wire.election(wire.election_pb(PublicElection(_definition(), ElectionState.DRAFT, 1,
                                                          1)))
    assert draft.context is None and not draft.issuers


def test_a_server_cannot_make_the_phone_encrypt_for_another_key_or_class():
    pb = wire.election_pb(_published())
    pb.joint_public_key = encode_point(base_mul(8))  # the server knows this key's secret
    with pytest.raises(InvalidProof, match="election_hash"):
        wire.election(pb)
    pb = wire.election_pb(_published())
    pb.issuer_keys.add(weight=8950, spki=pb.issuer_keys[0].spki, registrar=0)
    with pytest.raises(wire.WireError, match="twice"):
        wire.election(pb)
    pb = wire.election_pb(_published())
    pb.issuer_keys[0].spki = b"\x30\x00"
    with pytest.raises(wire.WireError) as err:
        wire.election(pb)
    assert err.value.field == "election.issuer_keys[0].spki"


def test_a_server_cannot_pass_one_registrars_key_off_as_another_or_invent_a_registrar():
    """Each issuer key is filed under the registrar the reply names (so registrar 0's key
    given as registrar 1's is registrar 1's key to the phone, and registrar 1's signatures must
    verify under it); an index beyond the definition's registrars, or beyond 15, is refused."""
    pb = wire.election_pb(_published())
    pb.issuer_keys[1].registrar = 1
    back = wire.election(pb)
    assert back.issuers[1][8950].registrar == 1 and 2 not in back.issuers
    pb.issuer_keys[1].registrar = 3  # the definition names three registrars
    with pytest.raises(wire.WireError) as err:
        wire.election(pb)
    assert err.value.field == "election"
    pb.issuer_keys[1].registrar = 16
    with pytest.raises(wire.WireError) as err:
        wire.election(pb)
    assert err.value.field == "election.issuer_keys[1].registrar"


def _result() -> ResultRecord:
    return ResultRecord((2, 1, 0), (8950 + 12025, 8950, 0), 3, 2 * 8950 + 12025, True,
                        (ResultOutcome.REJECTED,) * 3, (1, 3))


def test_the_result_round_trips_and_its_fractions_must_be_its_quotients():
    receipt = Receipt(4, bytes(32), (bytes(32),), b"note")
    pb = wire.result_pb("gate-2026", ("approve", "oppose", "abstain"), _result(), receipt)
    f = pb.options[0].area_fraction
    assert Fraction(f.numerator, f.denominator) == Fraction(8950 + 12025, 2 * 8950 + 12025)
    assert wire.result(pb) == (_result(), ("approve", "oppose", "abstain"), receipt)
    pb.options[1].headcount_fraction.numerator = 2  # 2/3, but oppose has 1 of 3
    with pytest.raises(wire.WireError) as err:
        wire.result(pb)
    assert (err.value.field, err.value.reason) == ("options[1].headcount_fraction",
                                                   "INCONSISTENT_RESULT")
    pb = wire.result_pb("gate-2026", ("approve", "oppose", "abstain"), _result(), receipt)
    pb.options[2].outcome = 0
    with pytest.raises(wire.WireError):
        wire.result(pb)


def test_attestations_receipts_and_the_log_round_trip():
    att, sig = DemoIdentityProvider().attest("O001", "gate-2026", [b"\x01" * 256, b"\x02" * 256])
    assert len(att.authorises) == 2
    assert wire.attestation(wire.attestation_pb(att, sig)) == (att, sig)
    for change, field in (  # the authorised digests: 32 bytes each, strictly increasing
            (lambda a: a.authorises.append(b"\x00" * 31), "attestation.authorises[2]"),
            (lambda a: a.authorises.append(a.authorises[1]), "attestation.authorises[2]"),
            (lambda a: a.authorises.reverse(), "attestation.authorises[1]"),
            (lambda a: a.authorises.extend(bytes([i]) * 32 for i in range(3, 18)),
             "attestation.authorises")):
        bad = wire.attestation_pb(att, sig)
        change(bad)
        with pytest.raises(wire.WireError) as err:
            wire.attestation(bad)
        assert err.value.field == field
    request = wire.credential_request_pb(att, sig, 8950, b"\x01" * 256)
    assert (request.weight, request.blinded_msg) == (8950, b"\x01" * 256)
    assert wire.attestation(wire.eligibility_request_pb(att, sig).attestation) == (att, sig)
    bad = wire.attestation_pb(att, sig[:10])
    with pytest.raises(wire.WireError) as err:
        wire.attestation(bad)
    assert err.value.field == "attestation.signature"
    bad = wire.attestation_pb(replace(att, election_id="x"), sig)
    bad.election_id = "Not An Id"
    with pytest.raises(wire.WireError) as err:
        wire.attestation(bad)
    assert err.value.field == "attestation.election_id"
    r = Receipt(9, b"\x02" * 32, (b"\x03" * 32, b"\x04" * 32), b"signed note")
    assert wire.receipt(wire.receipt_pb(r)) == r
    log = Ed25519Signer.generate("example.org/log").verifier()
    witnesses = (CosignatureSigner.generate("w1.example").verifier(),)
    info = wire.log_info_pb("example.org/log", log, witnesses, 1)
    got = wire.log_info(info)
    assert (got[0].vkey(), [w.vkey() for w in got[1]], got[2]) == (
        log.vkey(), [w.vkey() for w in witnesses], 1)
    info.witnesses[0].verifier_key = "garbage"
    with pytest.raises(wire.WireError):
        wire.log_info(info)


def test_the_ceremony_and_the_decryption_shares_round_trip():
    run = run_dkg("wire-ceremony", 3, 2)
    from crypto.dkg import make_complaint
    complaint = make_complaint(run.params, run.keys[2], run.dealings[0])
    pb = wire.ceremony_pb(run.publics, run.dealings, [complaint], b"\x02" * 33, [3, 1, 2])
    assert list(pb.qualified) == [1, 2, 3]
    assert wire.ceremony(pb) == (tuple(run.publics), tuple(run.dealings), (complaint,))
    pb.dealings[1].shares[0].recipient = 0
    with pytest.raises(wire.WireError) as err:
        wire.ceremony(pb)
    assert err.value.field == "dealings[1].shares[0].recipient"
    ct = run.result.joint_public_key  # any point serves as the aggregate's alpha here
    from crypto.elgamal import Ciphertext
    share = partial_decrypt("wire-ceremony", "option[0].count", run.shares[1],
                            Ciphertext(ct, ct))
    record = DecryptionSharesRecord(1, (("option[0].count", share),))
    request = wire.decryption_shares_request_pb("wire-ceremony", record)
    assert wire.decryption_shares(request.guardian, request.shares) == record
    request.shares.add().CopyFrom(request.shares[0])
    with pytest.raises(wire.WireError) as err:
        wire.decryption_shares(request.guardian, request.shares)
    assert (err.value.field, err.value.reason) == ("shares[1].label", "DUPLICATE_LABEL")


def test_a_cast_ballot_maps_both_ways():
    from crypto.ballot import ElectionContext
    from tests.support.ballots import new_voter
    context = ElectionContext("gate-2026", Contest.referendum(), base_mul(11))
    v = new_voter(context, [REGISTRARS.issuer(r, 8950) for r in (0, 2)],
                  [rsa_key(r, 8950) for r in (0, 2)], [0])
    pb = wire.cast_ballot_pb(v.cast)
    assert [(s.registrar, s.msg_prefix, s.signature) for s in pb.credential.signatures] == \
        [(s.registrar, s.msg_prefix, s.signature) for s in v.credential.signatures]
    assert wire.cast_ballot("cast_ballot", pb) == v.cast
    assert wire.cast_ballot_request_pb(v.cast).cast_ballot == pb
    # what no credential can be is refused naming the field
    for spoil in (lambda c: c.ClearField("signatures"),
                  lambda c: setattr(c.signatures[1], "registrar", 0),
                  lambda c: setattr(c.signatures[0], "registrar", 3),
                  lambda c: setattr(c.signatures[1], "registrar", 16),
                  lambda c: setattr(c.signatures[0], "msg_prefix", bytes(31)),
                  lambda c: setattr(c.signatures[1], "signature", b"")):
        bad = wire.cast_ballot_pb(v.cast)
        spoil(bad.credential)
        with pytest.raises(wire.WireError) as err:
            wire.cast_ballot("cast_ballot", bad)
        assert err.value.field == "cast_ballot.credential.signatures"
