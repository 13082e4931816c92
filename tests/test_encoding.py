"""The shared framing (crypto/encoding.py): the length prefix, the reader, and the ledger's event
envelope with its kind registry; and the ledger verifier's routing of events by family
(crypto/audit.py)."""

from __future__ import annotations

import pytest

from crypto.audit import FAMILIES, LedgerVerifier
from crypto.election_audit import ElectionVerifier
from crypto.encoding import (
    EVENT_MAGIC,
    Event,
    Reader,
    decode_all,
    decode_event,
    encode_event,
    event_family,
    lp,
    register_event_kinds,
    registered_kinds,
)
from crypto.errors import DecodeError, UnknownEventKind, UnknownFamily
from crypto.log.audit import AuditFailure
from crypto.records import ELECTION_EVENT_KINDS, ELECTION_FAMILY, ElectionEvent


def test_the_length_prefix_is_four_bytes_big_endian():
    assert lp(b"") == b"\x00\x00\x00\x00"
    assert lp(b"abc") == b"\x00\x00\x00\x03abc"
    assert lp(bytes(300))[:4] == (300).to_bytes(4, "big")


def test_the_reader_refuses_short_long_and_oversized_input():
    r = Reader(lp(b"hello") + b"\x01\x02")
    assert r.lp() == b"hello" and r.uint(2) == 0x0102
    r.end()
    with pytest.raises(DecodeError, match="truncated"):
        Reader(b"\x00\x00\x00\x05abc").lp()
    with pytest.raises(DecodeError, match="too large"):
        Reader(lp(b"x" * 10)).lp(9)
    with pytest.raises(DecodeError, match="UTF-8"):
        Reader(lp(b"\xff")).text()
    with pytest.raises(DecodeError, match="trailing"):
        decode_all(lp(b"a") + b"\x00", lambda rd: rd.lp())
    with pytest.raises(DecodeError, match="expected bytes"):
        Reader("text")  # type: ignore[arg-type]


def test_events_round_trip_for_every_kind_of_the_election_family():
    assert set(ELECTION_EVENT_KINDS) == {k.value for k in ElectionEvent}
    for kind in sorted(ELECTION_EVENT_KINDS):
        assert event_family(kind) == ELECTION_FAMILY
        e = Event(kind, "gate-2026", b"body \x00\x01")
        raw = encode_event(e)
        assert raw == (lp(EVENT_MAGIC) + lp(kind.encode()) + lp(b"gate-2026")
                       + lp(b"body \x00\x01"))
        assert decode_event(raw) == e and encode_event(decode_event(raw)) == raw


def test_the_envelope_refuses_anything_else():
    raw = encode_event(Event(ElectionEvent.BALLOT, "gate-2026", b"x"))
    for bad in (raw[:-1], raw + b"\x00", raw.replace(b"ownervote/v1/event", b"ownervote/v2/event"),
                raw.replace(b"ballot", b"Ballot"), raw.replace(b"gate-2026", b"gate\xff2026"),
                b""):
        with pytest.raises(DecodeError):
            decode_event(bad)
    empty = lp(EVENT_MAGIC) + lp(b"ballot") + lp(b"") + lp(b"x")
    with pytest.raises(DecodeError, match="subject"):
        decode_event(empty)
    with pytest.raises(DecodeError, match="subject"):
        encode_event(Event(ElectionEvent.BALLOT, "", b""))
    with pytest.raises(DecodeError, match="subject"):
        encode_event(Event(ElectionEvent.BALLOT, "s" * 129, b""))
    encode_event(Event(ElectionEvent.BALLOT, "s" * 128, b""))


def test_a_kind_no_family_registered_is_a_typed_refusal():
    with pytest.raises(UnknownEventKind) as err:
        encode_event(Event("gossip", "gate-2026", b""))
    assert err.value.kind == "gossip" and isinstance(err.value, DecodeError)
    # the envelope of an unknown kind still decodes (readers of one family pass over the
    # others); which family owns it is the question a verifier asks, and it has no answer
    raw = encode_event(Event(ElectionEvent.BALLOT, "gate-2026", b"x")).replace(b"ballot",
                                                                              b"bollot")
    assert decode_event(raw).kind == "bollot"
    with pytest.raises(UnknownEventKind):
        event_family("bollot")


def test_the_registry_keeps_each_kind_in_one_family():
    assert register_event_kinds(ELECTION_FAMILY, ["ballot"]) == frozenset({"ballot"})
    with pytest.raises(ValueError, match="belongs to the election family"):
        register_event_kinds("test-other", ["ballot"])
    with pytest.raises(ValueError):
        register_event_kinds("test-other", ["Not A Kind"])
    with pytest.raises(ValueError):
        register_event_kinds("Bad Family", ["fine-kind"])
    assert registered_kinds()["ballot"] == ELECTION_FAMILY


def test_the_election_verifier_has_a_rule_for_every_kind_of_its_family():
    assert FAMILIES[ELECTION_FAMILY] is ElectionVerifier
    assert ElectionVerifier().kinds == ELECTION_EVENT_KINDS


def test_the_ledger_verifier_refuses_unknown_kinds_and_families_it_does_not_check():
    v = LedgerVerifier()
    unknown = encode_event(Event(ElectionEvent.ROLL, "r", b"")).replace(b"roll", b"rols")
    with pytest.raises(AuditFailure, match="entry 0: unknown event kind 'rols'") as err:
        v.apply(0, unknown)
    assert isinstance(err.value.__cause__, UnknownEventKind)
    # a family whose records are known (registered) but which this verifier does not check
    register_event_kinds("test-fund", ["test-fund-deposit"])
    other = encode_event(Event("test-fund-deposit", "account-1", b"\x01"))
    with pytest.raises(AuditFailure, match="test-fund family, which this verifier does not "
                                           "check") as err:
        LedgerVerifier().apply(0, other)
    assert isinstance(err.value.__cause__, UnknownFamily)
    assert err.value.entry == 0

    class Deposits:
        family = "test-fund"

        def __init__(self) -> None:
            self.seen: list[Event] = []

        def apply(self, event: Event, index: int) -> None:
            self.seen.append((index, event))

    routed = LedgerVerifier({**FAMILIES, "test-fund": Deposits})
    routed.apply(0, other)
    assert routed.verifiers["test-fund"].seen == [(0, decode_event(other))]
    assert routed.next_index == 1 and not routed.election_family.elections


def test_an_election_verifier_refuses_a_kind_of_another_family():
    with pytest.raises(Exception, match="no 'test-fund-deposit' event"):
        ElectionVerifier().apply(Event("test-fund-deposit", "x", b""), 0)
