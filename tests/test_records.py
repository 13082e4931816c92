"""Canonical encodings of the election records: exact round trips, strict decoding."""

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto.ballot import Contest
from crypto.errors import DecodeError, WeakThreshold
from crypto.records import (
    DefinitionRecord,
    ElectionState,
    Registrar,
    RollCommitment,
    RulePreset,
    RuleRecord,
    Transition,
    decode_definition,
    decode_roll_commitment,
    decode_transition,
    encode_definition,
    encode_roll_commitment,
    encode_transition,
    preset_rule,
    rule_record,
)
from rules import art278

ROLL = RollCommitment(bytes(range(32)), 3 * 8950 + 12025, 4, ((8950, 3), (12025, 1)))
MAJOR = preset_rule(RulePreset.MAJOR)
REGISTRARS = (Registrar("committee", b"\x01" * 32), Registrar("housing-bureau", b"\x02" * 32),
              Registrar("street-office", b"\x03" * 32))
IDP = b"\x77" * 32
DEF = DefinitionRecord("gate-2026", "sunrise:0011", bytes(32), "Repair the north gate",
                       Contest.referendum(), MAJOR, 1_800_000_000, 1_800_086_400, 5, 3,
                       1_799_990_000, REGISTRARS, 2, IDP)


def registrar_tail(d: DefinitionRecord) -> bytes:
    """The definition's last fields (v3): u8(r) || (LP(name) || key)^r || u8(k) || IdP key."""
    return (bytes([len(d.registrars)]) + b"".join(
        len(r.name).to_bytes(4, "big") + r.name.encode() + r.key for r in d.registrars)
        + bytes([d.registrar_threshold]) + d.identity_provider)


def test_round_trips():
    for obj, enc, dec in ((ROLL, encode_roll_commitment, decode_roll_commitment),
                          (DEF, encode_definition, decode_definition),
                          (Transition(3, 4, 1_800_000_000), encode_transition, decode_transition)):
        raw = enc(obj)
        assert dec(raw) == obj and enc(dec(raw)) == raw
        for bad in (raw[:-1], raw + b"\x00"):
            with pytest.raises(DecodeError):
                dec(bad)


def test_definition_v3_layout():
    """Version 3: the ceremony deadline before the opening time; after the threshold the
    weak-threshold flag and the revote cap (as in v2); then the registrars sorted by name with
    their keys, the registrar threshold k and the identity provider's key."""
    d = replace(DEF, max_ballots_per_token=7)
    raw = encode_definition(d)
    tail = registrar_tail(d)
    assert raw[0] == 3 and raw.endswith(tail)
    assert len(tail) == 1 + (4 + 9 + 32) + (4 + 14 + 32) + (4 + 13 + 32) + 1 + 32
    assert tail[0] == 3 and tail[-33] == 2 and tail[-32:] == IDP
    body = raw[:-len(tail)]
    assert body[-20:] == (DEF.open_time.to_bytes(8, "big") + DEF.close_time.to_bytes(8, "big")
                          + bytes([5, 3, 0, 7]))
    assert body[-28:-20] == DEF.ceremony_deadline.to_bytes(8, "big")
    assert DEF.max_ballots_per_token == 5  # the default
    for version in (1, 2, 4):  # neither v1 nor v2 is decoded
        with pytest.raises(DecodeError):
            decode_definition(bytes([version]) + raw[1:])
    with pytest.raises(DecodeError):
        decode_definition(body[:-2] + b"\x02" + body[-1:] + tail)  # the flag is 0 or 1
    with pytest.raises(DecodeError):
        decode_definition(body[:-1] + b"\x00" + tail)  # a cap of 0
    with pytest.raises(DecodeError):  # a v2 definition: no registrars after the cap
        decode_definition(b"\x02" + body[1:])


def _with_tail(d: DefinitionRecord, registrars, k: int, idp: bytes = IDP) -> bytes:
    """``d``'s bytes with the registrar part written by hand (unchecked)."""
    raw = encode_definition(d)
    return raw[:-len(registrar_tail(d))] + bytes([len(registrars)]) + b"".join(
        len(n).to_bytes(4, "big") + n + key for n, key in registrars) + bytes([k]) + idp


def test_the_registrar_part_decodes_only_canonically():
    """Registrars sorted by name, each once, with distinct 32-byte keys, 1..16 of them;
    1 <= k <= their number; the identity provider's key 32 bytes."""
    ok = [(r.name.encode(), r.key) for r in REGISTRARS]
    assert decode_definition(_with_tail(DEF, ok, 2)) == DEF
    many = [(f"r{i:02}".encode(), bytes([i + 1]) * 32) for i in range(17)]
    for registrars, k in ((ok[::-1], 2), (ok[:1] + ok[:1], 1), ([], 1), (many, 2),
                          (ok, 0), (ok, 4), ([(ok[0][0], ok[0][1]), (ok[1][0], ok[0][1])], 2),
                          ([(b"Committee", ok[0][1])], 1), ([(b"", ok[0][1])], 1),
                          ([(b"a" * 65, ok[0][1])], 1)):
        with pytest.raises(DecodeError):
            decode_definition(_with_tail(replace(DEF, allow_weak_threshold=True),
                                         registrars, k))
    assert decode_definition(_with_tail(replace(DEF, allow_weak_threshold=True), many[:16],
                                        16)).registrar_threshold == 16
    raw = encode_definition(DEF)
    for bad in (raw[:-1], raw + b"\x00", _with_tail(DEF, ok, 2, IDP[:31])):
        with pytest.raises(DecodeError):
            decode_definition(bad)
    assert DEF.registrar_index("housing-bureau") == 1
    with pytest.raises(KeyError):
        DEF.registrar_index("bank")


def test_a_registrar_threshold_of_one_is_weak():
    """k = 1 lets one registrar mint ballots: refused, typed, unless the definition says so
    explicitly (and then reported weak), at decode too."""
    with pytest.raises(WeakThreshold, match="registrar"):
        replace(DEF, registrar_threshold=1)
    weak = replace(DEF, registrar_threshold=1, allow_weak_threshold=True)
    assert weak.weak_threshold
    assert decode_definition(encode_definition(weak)) == weak
    with pytest.raises(WeakThreshold):
        decode_definition(_with_tail(DEF, [(r.name.encode(), r.key) for r in REGISTRARS], 1))
    one = replace(DEF, registrars=REGISTRARS[:1], registrar_threshold=1,
                  allow_weak_threshold=True)
    assert decode_definition(encode_definition(one)) == one


def test_threshold_one_without_override_is_refused():
    """t = 1 (one guardian alone decrypts every ballot) is refused, typed, unless the
    definition says so explicitly; the encoding is refused at decode too."""
    with pytest.raises(WeakThreshold):
        replace(DEF, guardians=3, threshold=1)
    weak = replace(DEF, guardians=3, threshold=1, allow_weak_threshold=True)
    assert weak.weak_threshold and not DEF.weak_threshold
    raw = encode_definition(weak)
    assert decode_definition(raw) == weak
    body, tail = raw[:-len(registrar_tail(weak))], registrar_tail(weak)
    with pytest.raises(WeakThreshold):
        decode_definition(body[:-2] + b"\x00" + body[-1:] + tail)
    assert not replace(DEF, guardians=3, threshold=2).weak_threshold  # 2 > 3/2
    assert replace(DEF, guardians=4, threshold=2, allow_weak_threshold=True).weak_threshold


def test_committee_definitions_round_trip():
    d = DefinitionRecord("committee-2026", "r", bytes(32), "Elect the owners' committee",
                         Contest.committee(["Li", "Wang", "Zhang", "Zhao"], 1, 3),
                         preset_rule(RulePreset.ORDINARY), 10, 20, 3, 2, 5, REGISTRARS[1:], 2,
                         IDP)
    assert decode_definition(encode_definition(d)) == d


@pytest.mark.parametrize("bad", [
    lambda: RollCommitment(bytes(31), 1, 1, ((1, 1),)),
    lambda: RollCommitment(bytes(32), 2, 2, ((1, 1), (1, 1))),  # not increasing
    lambda: RollCommitment(bytes(32), 5, 2, ((1, 1), (2, 1))),  # area does not add up
    lambda: RuleRecord(4, MAJOR.fractions, False),
    lambda: RuleRecord(2, ((3, 2),) * 4, False),  # > 1
    lambda: RuleRecord(2, ((1, 0),) * 4, False),
    lambda: RuleRecord(3, ((2, 3), (2, 3), (0, 1), (1, 2)), False),  # "at least 0": no rule
    lambda: RuleRecord(3, ((2, 3), (2, 3), (1, 2), (1, 1)), True),  # "more than 1": never
    lambda: Transition(4, 6, 0),  # skips a state
    lambda: Transition(7, 8, 0),  # nothing comes after PUBLISHED
    lambda: RuleRecord(RulePreset.MAJOR, ((2, 3), (2, 3), (1, 2), (1, 2)), False),  # not MAJOR
    lambda: RuleRecord(RulePreset.ORDINARY, ((4, 6), (2, 3), (1, 2), (1, 2)), True),  # 4/6
    lambda: RuleRecord(RulePreset.ORDINARY, preset_rule(RulePreset.ORDINARY).fractions, False),
    lambda: DefinitionRecord("e", "r", bytes(32), "m", Contest.referendum(), MAJOR, 20, 10, 5, 3,
                             5, REGISTRARS, 2, IDP),
    lambda: DefinitionRecord("e", "r", bytes(32), "m", Contest.referendum(), MAJOR, 10, 20, 3, 5,
                             5, REGISTRARS, 2, IDP),
    # the registrars: 1..16, sorted by name, distinct names and keys; 1 <= k <= them; the
    # identity provider's key 32 bytes; a registrar's name and key well formed
    lambda: replace(DEF, registrars=()),
    lambda: replace(DEF, registrars=REGISTRARS[::-1]),
    lambda: replace(DEF, registrars=(REGISTRARS[0], REGISTRARS[0], REGISTRARS[1])),
    lambda: replace(DEF, registrars=(REGISTRARS[0], replace(REGISTRARS[1],
                                                            key=REGISTRARS[0].key))),
    lambda: replace(DEF, registrars=tuple(Registrar(f"r{i:02}", bytes([i + 1]) * 32)
                                          for i in range(17))),
    lambda: replace(DEF, registrar_threshold=0),
    lambda: replace(DEF, registrar_threshold=4),
    lambda: replace(DEF, registrar_threshold=1),  # weak without the override
    lambda: replace(DEF, identity_provider=bytes(31)),
    lambda: Registrar("Housing Bureau", bytes(32)),
    lambda: Registrar("-bureau", bytes(32)),
    lambda: Registrar("a" * 65, bytes(32)),
    lambda: Registrar("bureau", bytes(33)),
    # the ceremony deadline: positive, at or before the opening
    lambda: replace(DEF, ceremony_deadline=0),
    lambda: replace(DEF, ceremony_deadline=DEF.open_time + 1),
    # the revote cap: 1..255
    lambda: replace(DEF, max_ballots_per_token=0),
    lambda: replace(DEF, max_ballots_per_token=256),
    # t = 1, or t <= n/2, without the explicit override
    lambda: replace(DEF, guardians=1, threshold=1),
    lambda: replace(DEF, guardians=3, threshold=1),
    lambda: replace(DEF, guardians=4, threshold=2),
    lambda: replace(DEF, guardians=5, threshold=6, allow_weak_threshold=True),
])
def test_invalid_records_are_refused(bad):
    with pytest.raises(DecodeError):
        bad()


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 10**6), st.binary(min_size=1, max_size=3))
def test_any_mutation_is_refused_or_decodes_canonically(pos, junk):
    raw = encode_definition(DEF)
    i = pos % len(raw)
    mutated = raw[:i] + junk + raw[i + 1:]
    try:
        again = decode_definition(mutated)
    except DecodeError:
        return
    assert encode_definition(again) == mutated


def test_the_signed_issuer_keys_record():
    """issuer-keys v2 (crypto/issuance.py, §8.5): LP(registrar) || u32(c) || (u64(weight) ||
    LP(spki))^c || Ed25519 signature over LP(label) || LP(election_id) || the body."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from crypto.encoding import lp
    from crypto.errors import InvalidSignature
    from crypto.issuance import (
        ISSUANCES_LABEL,
        ISSUER_KEYS_LABEL,
        IssuerKeysRecord,
        decode_issuer_keys,
        encode_issuer_keys,
        sign_issuer_keys,
        verify_issuer_keys,
        verify_registrar_signature,
    )

    key = Ed25519PrivateKey.from_private_bytes(b"\x01" * 32)
    public = key.public_key().public_bytes_raw()
    unsigned = IssuerKeysRecord("committee", ((8950, b"spki-a"), (12025, b"spki-b")))
    rec = sign_issuer_keys(key, "gate-2026", unsigned)
    raw = encode_issuer_keys(rec)
    assert raw == (lp(b"committee") + (2).to_bytes(4, "big") + (8950).to_bytes(8, "big")
                   + lp(b"spki-a") + (12025).to_bytes(8, "big") + lp(b"spki-b") + rec.signature)
    assert decode_issuer_keys(raw) == rec
    key.public_key().verify(rec.signature, lp(ISSUER_KEYS_LABEL) + lp(b"gate-2026") + raw[:-64])
    verify_issuer_keys(public, "gate-2026", rec)
    for bad in (raw[:-1], raw + b"\x00"):
        with pytest.raises(DecodeError):
            decode_issuer_keys(bad)
    with pytest.raises(DecodeError):  # unsigned: not a record of the ledger
        encode_issuer_keys(unsigned)
    with pytest.raises(InvalidSignature):  # for another election
        verify_issuer_keys(public, "other-2026", rec)
    with pytest.raises(InvalidSignature):  # another registrar's key
        verify_issuer_keys(Ed25519PrivateKey.from_private_bytes(b"\x02" * 32).public_key()
                           .public_bytes_raw(), "gate-2026", rec)
    with pytest.raises(InvalidSignature):  # the signature under another label
        verify_registrar_signature(public, ISSUANCES_LABEL, "gate-2026", rec.body(),
                                   rec.signature)
    with pytest.raises(InvalidSignature):  # another registrar's name in the body
        verify_issuer_keys(public, "gate-2026", replace(rec, registrar="street-office"))
    with pytest.raises(DecodeError):
        IssuerKeysRecord("committee", ((12025, b"b"), (8950, b"a")))
    with pytest.raises(DecodeError):
        IssuerKeysRecord("committee", ())
    with pytest.raises(DecodeError):
        IssuerKeysRecord("committee", ((8950, b"a"),), bytes(63))


def test_the_signed_issuances_batch():
    """issuances (§8.5): LP(registrar) || u32(seq) || u8(final) || u32(m) || issuance^m ||
    signature, the issuances strictly increasing by owner id; issuance = LP(owner_id) ||
    u64(weight) || LP(attestation) || attestation signature (64) || blinded digest (32) ||
    LP(blind_sig)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from crypto.encoding import lp
    from crypto.errors import InvalidSignature
    from crypto.issuance import (
        ISSUANCES_LABEL,
        Issuance,
        IssuancesRecord,
        batch,
        decode_issuances,
        encode_issuances,
        sign_issuances,
        verify_issuances,
    )

    key = Ed25519PrivateKey.from_private_bytes(b"\x02" * 32)
    public = key.public_key().public_bytes_raw()
    items = [Issuance(owner, 8950, b"attestation of " + owner.encode(), bytes([i]) * 64,
                      bytes([i]) * 32, bytes([i + 1]) * 256)
             for i, owner in enumerate(["O010", "O002", "O001"])]
    rec = sign_issuances(key, "gate-2026", batch("housing-bureau", 3, True, items))
    assert [i.owner_id for i in rec.issuances] == ["O001", "O002", "O010"]  # owner order
    raw = encode_issuances(rec)
    one = items[2]
    assert one.encode() == (lp(b"O001") + (8950).to_bytes(8, "big") + lp(one.attestation)
                            + one.attestation_signature + one.blinded_digest
                            + lp(one.blind_sig))
    assert raw == (lp(b"housing-bureau") + (3).to_bytes(4, "big") + b"\x01"
                   + (3).to_bytes(4, "big") + b"".join(i.encode() for i in rec.issuances)
                   + rec.signature)
    key.public_key().verify(rec.signature, lp(ISSUANCES_LABEL) + lp(b"gate-2026") + raw[:-64])
    assert decode_issuances(raw) == rec
    verify_issuances(public, "gate-2026", rec)
    empty = sign_issuances(key, "gate-2026", batch("housing-bureau", 0, False, []))
    assert decode_issuances(encode_issuances(empty)) == empty
    flag = len(lp(b"housing-bureau")) + 4
    for bad in (raw[:-1], raw + b"\x00", raw[:flag] + b"\x02" + raw[flag + 1:]):
        with pytest.raises(DecodeError):
            decode_issuances(bad)
    # arrival order (or an owner twice) is no batch, decoded or made
    swapped = (raw[:flag + 5] + rec.issuances[1].encode() + rec.issuances[0].encode()
               + rec.issuances[2].encode() + rec.signature)
    with pytest.raises(DecodeError, match="owner id"):
        decode_issuances(swapped)
    for wrong in (tuple(items), (items[2], items[2])):
        with pytest.raises(DecodeError):
            IssuancesRecord("housing-bureau", 0, False, wrong)
    with pytest.raises(DecodeError):
        encode_issuances(batch("housing-bureau", 0, False, items))  # unsigned
    for tampered in (replace(rec, seq=4), replace(rec, final=False),
                     replace(rec, issuances=rec.issuances[:2])):
        with pytest.raises(InvalidSignature):
            verify_issuances(public, "gate-2026", tampered)
    with pytest.raises(InvalidSignature):
        verify_issuances(public, "other-2026", rec)
    for bad in (lambda: replace(one, owner_id=""), lambda: replace(one, weight=0),
                lambda: replace(one, attestation_signature=bytes(63)),
                lambda: replace(one, blinded_digest=bytes(31)),
                lambda: replace(one, blind_sig=b""), lambda: replace(one, blind_sig=bytes(1025))):
        with pytest.raises(DecodeError):
            bad()


def test_tally_records_round_trip_and_refuse_bad_bytes():
    from crypto.elgamal import ZERO, Ciphertext
    from crypto.group import G
    from crypto.proofs import DleqProof
    from crypto.records import (
        DecryptionSharesRecord,
        ResultRecord,
        decode_aggregates,
        decode_decryption_shares,
        decode_result,
        encode_aggregates,
        encode_decryption_shares,
        encode_result,
    )
    from crypto.tally import Aggregates
    from crypto.threshold import DecryptionShare

    ct = Ciphertext(5 * G, 7 * G)
    aggs = Aggregates((ct, ZERO), (ZERO, ct), 3, 30000)  # the sum of no ballots is (O, O)
    share = DecryptionShare(2, 3 * G, DleqProof(4 * G, 6 * G, 12345))
    cases = [
        (aggs, encode_aggregates, decode_aggregates),
        (DecryptionSharesRecord(2, (("option[0].count", share), ("option[1].area", share))),
         encode_decryption_shares, decode_decryption_shares),
        (ResultRecord((2, 1), (20000, 10000), 3, 30000, True, (2, 3), (1, 3)), encode_result,
         decode_result),
        (ResultRecord((0, 0), (0, 0), 0, 0, False, (1, 1), ()), encode_result, decode_result),
    ]
    for obj, enc, dec in cases:
        raw = enc(obj)
        assert enc(dec(raw)) == raw
        for bad in (raw[:-1], raw + b"\x00"):
            with pytest.raises(DecodeError):
                dec(bad)
    with pytest.raises(DecodeError):  # a share of another guardian inside guardian 1's record
        DecryptionSharesRecord(1, (("option[0].count", share),))
    with pytest.raises(DecodeError):  # the same label twice
        DecryptionSharesRecord(2, (("x", share), ("x", share)))
    with pytest.raises(DecodeError):  # unknown outcome
        ResultRecord((1,), (1,), 1, 1, True, (4,), (1,))
    with pytest.raises(DecodeError):  # guardians not increasing
        ResultRecord((1,), (1,), 1, 1, True, (2,), (3, 1))
    raw = bytearray(encode_aggregates(aggs))
    raw[1] = 0x05  # a bad point prefix where alpha starts
    with pytest.raises(DecodeError):
        decode_aggregates(bytes(raw))


def test_the_presets_are_the_art278_rules_and_their_numbers_are_the_protocols():
    """A preset's record carries exactly rules.art278's fractions (docs/protocol.md §12: 2/3,
    2/3, 1/2, 1/2 strict; 2/3, 2/3, 3/4, 3/4 at least), and the records' enums have the
    protocol's numbers."""
    assert preset_rule(RulePreset.ORDINARY) == RuleRecord(1, ((2, 3), (2, 3), (1, 2), (1, 2)), True)
    assert preset_rule(RulePreset.MAJOR) == RuleRecord(2, ((2, 3), (2, 3), (3, 4), (3, 4)), False)
    assert preset_rule(RulePreset.MAJOR).rule() == art278.MAJOR
    assert preset_rule(RulePreset.ORDINARY).rule() == art278.ORDINARY
    explicit = rule_record(art278.rule_from_fractions("1/2", "1/2", "3/5", "3/5", strict=True))
    assert explicit.preset is RulePreset.EXPLICIT and explicit.fractions[2] == (3, 5)
    assert decode_definition(encode_definition(DEF)).rule.preset is RulePreset.MAJOR
    assert [s.value for s in ElectionState] == list(range(1, 8))
    assert decode_transition(encode_transition(Transition(3, 4, 5))).to_state is ElectionState.OPEN
    with pytest.raises(DecodeError, match="preset"):
        decode_definition(encode_definition(DEF).replace(
            b"\x02" + (2).to_bytes(8, "big") + (3).to_bytes(8, "big"),
            b"\x07" + (2).to_bytes(8, "big") + (3).to_bytes(8, "big")))
