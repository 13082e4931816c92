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
DEF = DefinitionRecord("gate-2026", "sunrise:0011", bytes(32), "Repair the north gate",
                       Contest.referendum(), MAJOR, 1_800_000_000, 1_800_086_400, 5, 3,
                       1_799_990_000)


def test_round_trips():
    for obj, enc, dec in ((ROLL, encode_roll_commitment, decode_roll_commitment),
                          (DEF, encode_definition, decode_definition),
                          (Transition(3, 4, 1_800_000_000), encode_transition, decode_transition)):
        raw = enc(obj)
        assert dec(raw) == obj and enc(dec(raw)) == raw
        for bad in (raw[:-1], raw + b"\x00"):
            with pytest.raises(DecodeError):
                dec(bad)


def test_definition_v2_layout():
    """Version 2: the ceremony deadline before the opening time, and after the threshold the
    weak-threshold flag and the revote cap."""
    raw = encode_definition(replace(DEF, max_ballots_per_token=7))
    assert raw[0] == 2
    assert raw[-20:] == (DEF.open_time.to_bytes(8, "big") + DEF.close_time.to_bytes(8, "big")
                         + bytes([5, 3, 0, 7]))
    assert raw[-28:-20] == DEF.ceremony_deadline.to_bytes(8, "big")
    assert DEF.max_ballots_per_token == 5  # the default
    with pytest.raises(DecodeError):
        decode_definition(b"\x01" + raw[1:])  # version 1 is not decoded
    with pytest.raises(DecodeError):
        decode_definition(raw[:-2] + b"\x02" + raw[-1:])  # the flag is 0 or 1
    with pytest.raises(DecodeError):
        decode_definition(raw[:-1] + b"\x00")  # a cap of 0


def test_threshold_one_without_override_is_refused():
    """t = 1 (one guardian alone decrypts every ballot) is refused, typed, unless the
    definition says so explicitly; the encoding is refused at decode too."""
    with pytest.raises(WeakThreshold):
        replace(DEF, guardians=3, threshold=1)
    weak = replace(DEF, guardians=3, threshold=1, allow_weak_threshold=True)
    assert weak.weak_threshold and not DEF.weak_threshold
    raw = encode_definition(weak)
    assert decode_definition(raw) == weak
    with pytest.raises(WeakThreshold):
        decode_definition(raw[:-2] + b"\x00" + raw[-1:])
    assert not replace(DEF, guardians=3, threshold=2).weak_threshold  # 2 > 3/2
    assert replace(DEF, guardians=4, threshold=2, allow_weak_threshold=True).weak_threshold


def test_committee_definitions_round_trip():
    d = DefinitionRecord("committee-2026", "r", bytes(32), "Elect the owners' committee",
                         Contest.committee(["Li", "Wang", "Zhang", "Zhao"], 1, 3),
                         preset_rule(RulePreset.ORDINARY), 10, 20, 3, 2, 5)
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
                             5),
    lambda: DefinitionRecord("e", "r", bytes(32), "m", Contest.referendum(), MAJOR, 10, 20, 3, 5,
                             5),
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


def test_issuer_keys_record():
    from crypto.records import IssuerKeysRecord, decode_issuer_keys, encode_issuer_keys

    rec = IssuerKeysRecord(((8950, b"spki-a"), (12025, b"spki-b")))
    raw = encode_issuer_keys(rec)
    assert decode_issuer_keys(raw) == rec
    for bad in (raw[:-1], raw + b"\x00"):
        with pytest.raises(DecodeError):
            decode_issuer_keys(bad)
    with pytest.raises(DecodeError):
        IssuerKeysRecord(((12025, b"b"), (8950, b"a")))
    with pytest.raises(DecodeError):
        IssuerKeysRecord(())


def test_tally_records_round_trip_and_refuse_bad_bytes():
    from crypto.elgamal import ZERO, Ciphertext
    from crypto.group import G
    from crypto.proofs import DleqProof
    from crypto.records import (
        CredentialsIssuedRecord,
        DecryptionSharesRecord,
        ResultRecord,
        decode_aggregates,
        decode_credentials_issued,
        decode_decryption_shares,
        decode_result,
        encode_aggregates,
        encode_credentials_issued,
        encode_decryption_shares,
        encode_result,
    )
    from crypto.tally import Aggregates
    from crypto.threshold import DecryptionShare

    ct = Ciphertext(5 * G, 7 * G)
    aggs = Aggregates((ct, ZERO), (ZERO, ct), 3, 30000)  # the sum of no ballots is (O, O)
    share = DecryptionShare(2, 3 * G, DleqProof(4 * G, 6 * G, 12345))
    cases = [
        (CredentialsIssuedRecord(((8950, 3), (12025, 1))), encode_credentials_issued,
         decode_credentials_issued),
        (CredentialsIssuedRecord(()), encode_credentials_issued, decode_credentials_issued),
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
    with pytest.raises(DecodeError):  # weights must increase
        CredentialsIssuedRecord(((12025, 1), (8950, 3)))
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
