"""Tests of crypto.transcript: the one Fiat–Shamir transcript, its byte layout and challenge."""

from __future__ import annotations

import hashlib
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto.encoding import lp
from crypto.errors import DecodeError
from crypto.group import IDENTITY, ORDER, G, base_mul, encode_point, expand_message_xmd
from crypto.transcript import DST_CHALLENGE, Transcript

FAST = settings(max_examples=25, deadline=None)


def LP(b: bytes) -> bytes:  # noqa: N802 — the name the module docstring uses
    """Built by hand: a 4-byte big-endian length, then the bytes."""
    return struct.pack(">I", len(b)) + b


def reference_challenge(data: bytes) -> int:
    """RFC 9380 hash_to_field(msg, 1) mod q with L = 48, written out independently."""
    return int.from_bytes(expand_message_xmd(data, b"ownervote-v1-fiat-shamir-challenge", 48),
                          "big") % ORDER


def test_lp():
    assert lp(b"") == b"\x00\x00\x00\x00"
    assert lp(b"abc") == b"\x00\x00\x00\x03abc"
    assert lp(bytes(300))[:4] == b"\x00\x00\x01\x2c"


def test_dst_constant():
    assert DST_CHALLENGE == b"ownervote-v1-fiat-shamir-challenge"


def test_empty_transcript_layout():
    t = Transcript("lbl")
    assert t.to_bytes() == LP(b"ownervote/v1/transcript") + LP(b"lbl")


def test_exact_byte_layout():
    """LP("ownervote/v1/transcript") || LP(label) || (LP(name) || LP(value))*, by hand."""
    pt = base_mul(5)
    t = Transcript("my/label", [("election_id", b"E-1"), ("empty", b"")])
    t.append("raw", b"\x00\xff").append_int("count", 258).append_scalar("s", 7)
    t.append_point("P", pt)
    expected = (
        b"\x00\x00\x00\x17" + b"ownervote/v1/transcript"
        + b"\x00\x00\x00\x08" + b"my/label"
        + b"\x00\x00\x00\x0b" + b"election_id" + b"\x00\x00\x00\x03" + b"E-1"
        + b"\x00\x00\x00\x05" + b"empty" + b"\x00\x00\x00\x00"
        + b"\x00\x00\x00\x03" + b"raw" + b"\x00\x00\x00\x02" + b"\x00\xff"
        + b"\x00\x00\x00\x05" + b"count" + b"\x00\x00\x00\x08" + b"\x00" * 6 + b"\x01\x02"
        + b"\x00\x00\x00\x01" + b"s" + b"\x00\x00\x00\x20" + b"\x00" * 31 + b"\x07"
        + b"\x00\x00\x00\x01" + b"P" + b"\x00\x00\x00\x21" + encode_point(pt)
    )
    assert t.to_bytes() == expected
    assert t.challenge() == reference_challenge(expected)
    assert 0 <= t.challenge() < ORDER


def test_point_is_appended_compressed():
    t = Transcript("x").append_point("G", G)
    assert t.to_bytes().endswith(
        LP(b"G") + LP(bytes.fromhex(
            "036b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296")))


def test_non_ascii_names_are_utf8():
    t = Transcript("é", [("名", "值".encode())])
    assert t.to_bytes() == (LP(b"ownervote/v1/transcript") + LP("é".encode()) + LP("名".encode())
                            + LP("值".encode()))


def test_length_prefix_unambiguous_name_value_boundary():
    a = Transcript("L").append("ab", b"c")
    b = Transcript("L").append("a", b"bc")
    assert a.to_bytes() != b.to_bytes()
    assert a.challenge() != b.challenge()
    # without length prefixes these two would concatenate to the same bytes
    assert b"ab" + b"c" == b"a" + b"bc"


def test_length_prefix_unambiguous_between_items():
    a = Transcript("L", [("x", b"ab"), ("y", b"c")])
    b = Transcript("L", [("x", b"a"), ("y", b"bc")])
    assert a.to_bytes() != b.to_bytes()
    assert a.challenge() != b.challenge()


def test_label_and_context_boundary():
    a = Transcript("ab")
    b = Transcript("a", [("b", b"")])
    assert a.to_bytes() != b.to_bytes()
    assert a.challenge() != b.challenge()


def test_label_changes_challenge():
    ctx = [("election_id", b"E")]
    assert Transcript("label-1", ctx).challenge() != Transcript("label-2", ctx).challenge()


def test_context_changes_challenge():
    a = Transcript("L", [("election_id", b"E-1")]).append_point("X", G)
    b = Transcript("L", [("election_id", b"E-2")]).append_point("X", G)
    c = Transcript("L", [("election_ix", b"E-1")]).append_point("X", G)
    assert len({a.challenge(), b.challenge(), c.challenge()}) == 3


def test_context_order_matters():
    a = Transcript("L", [("a", b"1"), ("b", b"2")])
    b = Transcript("L", [("b", b"2"), ("a", b"1")])
    assert a.challenge() != b.challenge()


def test_context_equals_appending():
    a = Transcript("L", [("a", b"1"), ("b", b"2")])
    b = Transcript("L").append("a", b"1").append("b", b"2")
    assert a.to_bytes() == b.to_bytes()
    assert a.challenge() == b.challenge()


def test_challenge_is_deterministic_and_does_not_consume():
    t = Transcript("L").append("a", b"1")
    c1 = t.challenge()
    assert t.challenge() == c1
    t.append("b", b"2")
    assert t.challenge() != c1


def test_append_int_width():
    t = Transcript("L").append_int("n", 0)
    assert t.to_bytes().endswith(LP(b"n") + LP(bytes(8)))
    t = Transcript("L").append_int("n", 2**64 - 1)
    assert t.to_bytes().endswith(LP(b"n") + LP(b"\xff" * 8))
    with pytest.raises(OverflowError):
        Transcript("L").append_int("n", 2**64)
    with pytest.raises(OverflowError):
        Transcript("L").append_int("n", -1)


def test_append_rejects_unencodable():
    with pytest.raises(DecodeError):
        Transcript("L").append_point("P", IDENTITY)
    with pytest.raises(DecodeError):
        Transcript("L").append_scalar("s", ORDER)
    with pytest.raises(DecodeError):
        Transcript("L").append_scalar("s", -1)


def test_challenge_differs_from_plain_sha256():
    """The challenge is the RFC 9380 hash, not e.g. SHA-256 of the transcript mod q."""
    t = Transcript("L").append("a", b"1")
    assert t.challenge() != int.from_bytes(hashlib.sha256(t.to_bytes()).digest(), "big") % ORDER
    assert t.challenge() == reference_challenge(t.to_bytes())


items = st.lists(st.tuples(st.text(max_size=6), st.binary(max_size=6)), max_size=4)


@FAST
@given(st.text(max_size=6), items, st.text(max_size=6), items)
def test_encoding_is_injective(label1, items1, label2, items2):
    t1 = Transcript(label1, items1)
    t2 = Transcript(label2, items2)
    if (label1, items1) == (label2, items2):
        assert t1.to_bytes() == t2.to_bytes()
    else:
        assert t1.to_bytes() != t2.to_bytes()
        assert t1.challenge() != t2.challenge()
