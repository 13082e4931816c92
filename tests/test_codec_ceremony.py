"""Canonical encodings of the key-ceremony and tally messages: round trips and strict decoding."""

import pytest

from crypto.codec import (
    decode_complaint,
    decode_dealing,
    decode_decryption_share,
    decode_guardian_key,
    encode_complaint,
    encode_dealing,
    encode_decryption_share,
    encode_guardian_key,
)
from crypto.dkg import deal, make_complaint
from crypto.elgamal import encrypt
from crypto.errors import DecodeError
from crypto.threshold import partial_decrypt
from tests.support.dkg import run_dkg


@pytest.fixture(scope="module")
def run():
    return run_dkg("codec-ceremony", 4, 2)


def objects(run):
    key = run.keys[1].public
    dealing, _ = deal(run.params, 2, [k.public for k in run.keys.values()])
    complaint = make_complaint(run.params, run.keys[3], dealing)
    ct, _ = encrypt(run.result.joint_public_key, 9)
    share = partial_decrypt("codec-ceremony", "option[0].count", run.shares[4], ct)
    # (object, encode, decode, offset of its first point)
    return [(key, encode_guardian_key, decode_guardian_key, 1),
            (dealing, encode_dealing, decode_dealing, 2),
            (complaint, encode_complaint, decode_complaint, 2),
            (share, encode_decryption_share, decode_decryption_share, 1)]


def test_round_trips_are_exact(run):
    for obj, enc, dec, _ in objects(run):
        raw = enc(obj)
        assert dec(raw) == obj and enc(dec(raw)) == raw


def test_decoding_is_strict(run):
    for obj, enc, dec, first_point in objects(run):
        raw = enc(obj)
        for bad in (raw[:-1], raw + b"\x00", b"\x00" + raw[1:], b""):
            with pytest.raises(DecodeError):
                dec(bad)
        # a point with a prefix that is neither 02 nor 03
        broken = bytearray(raw)
        broken[first_point] = 0x05
        with pytest.raises(DecodeError):
            dec(bytes(broken))
