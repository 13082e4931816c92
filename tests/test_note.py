"""C2SP signed notes (crypto/log/note.py) against the Go reference's own known answers.

``tests/vectors/note/go_sumdb_note.json`` transcribes golang.org/x/mod/sumdb/note's
note_test.go: the PeterNeumann signer/verifier keys, the EnochRoot verifier key, the signed
notes, the Open cases and the malformed notes. Ed25519 is deterministic, so signing the Go text
with the Go key must reproduce the Go note byte for byte.
"""

import base64
import hashlib
import json
from pathlib import Path

import pytest

from crypto.errors import (
    AmbiguousKey,
    DecodeError,
    InvalidSignature,
    MalformedKey,
    MalformedNote,
    UnverifiedNote,
)
from crypto.log.note import (
    MAX_SIGNATURES,
    Ed25519Signer,
    Ed25519Verifier,
    Note,
    NoteSignature,
    Signer,
    b64decode_canonical,
    decode_verifier_key,
    is_valid_key_name,
    key_id,
    open_note,
    parse_note,
    parse_signature_lines,
    sign_note,
)

GO = json.loads((Path(__file__).parent / "vectors" / "note" / "go_sumdb_note.json").read_text())
KEYS = GO["keys"]
TEXT = GO["text"]
PETER_LINE = GO["signature_lines"]["PeterNeumann"]
ENOCH_LINE = GO["signature_lines"]["EnochRoot"]


def verifier(name: str) -> Ed25519Verifier:
    return Ed25519Verifier.from_vkey(KEYS[name]["verifier"])


def peter_signer() -> Ed25519Signer:
    return Ed25519Signer.from_skey(KEYS["PeterNeumann"]["signer"])


def go_sig(name: str) -> NoteSignature:
    s = GO["signatures"][name]
    raw = base64.b64decode(s["base64"])
    assert raw[:4].hex() == s["key_id"]
    return NoteSignature(s["name"], raw[:4], raw[4:])


# --- keys ------------------------------------------------------------------------------------

def test_go_keys_parse_and_round_trip():
    for name, k in KEYS.items():
        v = verifier(name)
        assert v.name == name and v.key_id.hex() == k["key_id"]
        assert v.vkey() == k["verifier"]
        # key ID = SHA-256(name || 0x0A || 0x01 || public key)[:4], recomputed by hand
        raw = base64.b64decode(k["verifier"].split("+", 2)[2])
        assert raw[0] == 0x01 and len(raw) == 33
        assert hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4].hex() == k["key_id"]
    s = peter_signer()
    assert s.skey() == KEYS["PeterNeumann"]["signer"]
    assert s.verifier() == verifier("PeterNeumann")
    assert KEYS["EnochRoot"]["signer"] is None  # not published by the Go tests


def test_go_bad_verifier_keys():
    for bad in GO["bad_verifier_keys"]:
        with pytest.raises(MalformedKey):
            Ed25519Verifier.from_vkey(bad["key"])


def _manglings(key: str):
    """Go TestNewVerifier / TestNewSigner: every proper substring, every single-byte increment."""
    b = key.encode()
    for i in range(len(b) + 1):
        for j in range(i + 1, len(b) + 1):
            if (i, j) != (0, len(b)):
                yield b[i:j].decode()
    for i in range(len(b)):
        yield (b[:i] + bytes([b[i] + 1]) + b[i + 1:]).decode()


def test_go_verifier_key_manglings_rejected():
    for k in _manglings(KEYS["PeterNeumann"]["verifier"]):
        with pytest.raises(MalformedKey):
            Ed25519Verifier.from_vkey(k)


def test_go_signer_key_manglings_rejected():
    for k in _manglings(KEYS["PeterNeumann"]["signer"]):
        with pytest.raises(MalformedKey):
            Ed25519Signer.from_skey(k)


def test_key_strings_reject_wrong_type_and_length():
    s = Ed25519Signer("example.com/k", bytes(range(32)))
    name, kid, sig_type, pub = decode_verifier_key(s.verifier().vkey())
    assert (name, kid, sig_type, pub) == ("example.com/k", s.key_id, 1, s.public_key)
    # a type-0x04 (cosignature) key is not a type-0x01 note key, even with a matching key ID
    kid4 = key_id("example.com/k", 0x04, s.public_key)
    vkey4 = f"example.com/k+{kid4.hex()}+{base64.b64encode(bytes([4]) + s.public_key).decode()}"
    with pytest.raises(MalformedKey):
        Ed25519Verifier.from_vkey(vkey4)
    short = s.public_key[:31]
    kid_short = key_id("example.com/k", 0x01, short)
    with pytest.raises(MalformedKey):
        Ed25519Verifier.from_vkey(
            f"example.com/k+{kid_short.hex()}+{base64.b64encode(bytes([1]) + short).decode()}"
        )
    with pytest.raises(MalformedKey):
        Ed25519Signer("example.com/k", bytes(31))
    with pytest.raises(MalformedKey):
        Ed25519Verifier("example.com/k", bytes(33))
    # an upper-case key ID is accepted (Go ParseUint); the canonical form is lower case
    upper = s.verifier().vkey().replace(s.key_id.hex(), s.key_id.hex().upper())
    if upper != s.verifier().vkey():
        assert Ed25519Verifier.from_vkey(upper) == s.verifier()


@pytest.mark.parametrize(
    "name,ok",
    [
        ("PeterNeumann", True),
        ("example.com/log42", True),
        ("oid/1.3.6.1.4.1", True),
        ("ünïcödé", True),
        ("", False),
        ("a+b", False),
        ("bad name", False),
        ("tab\tname", False),
        ("nbsp\u00a0name", False),
        ("em\u2003space", False),
        ("ideographic\u3000space", False),
        ("line\u2028sep", False),
        ("ctl\x01", False),
        ("nl\n", False),
        ("surrogate\ud800", False),
    ],
)
def test_key_name_rules(name, ok):
    assert is_valid_key_name(name) is ok
    if not ok:
        with pytest.raises(MalformedKey):
            Ed25519Signer(name, bytes(32))
        with pytest.raises(MalformedNote):
            NoteSignature(name, bytes(4), b"x")


# --- signing (Go TestSign) -------------------------------------------------------------------

def test_go_sign_reproduces_note_byte_for_byte():
    want = GO["sign"]["want"].encode()
    assert sign_note(GO["sign"]["text"], [peter_signer()]) == want
    assert want == (TEXT + "\n" + PETER_LINE).encode()


def test_go_sign_replaces_existing_signature_by_same_key():
    e = GO["sign"]["replaced_existing"]
    old = NoteSignature(e["name"], bytes.fromhex(e["key_id"]), base64.b64decode(e["base64"]))
    assert sign_note(TEXT, [peter_signer()], existing=[old]) == GO["sign"]["want"].encode()


def test_go_two_signature_note_by_appending_enoch():
    # The Go package example: re-signing keeps the existing (here: EnochRoot's) signature first.
    note = sign_note(TEXT, [peter_signer()], existing=[go_sig("EnochRoot")])
    assert note == (TEXT + "\n" + ENOCH_LINE + PETER_LINE).encode()


class _NamedSigner(Signer):
    def __init__(self, inner: Signer, name: str):
        self.inner, self.name, self.key_id = inner, name, inner.key_id

    def sign(self, msg: bytes) -> bytes:
        return self.inner.sign(msg)


def test_go_sign_errors():
    by_go = {c["go"]: c for c in GO["sign_errors"]}
    assert len(by_go) == 3
    with pytest.raises(MalformedNote):
        sign_note("abc", [peter_signer()])
    with pytest.raises(MalformedNote):
        sign_note(TEXT, [], existing=[NoteSignature("a+b", bytes(4), b"\x00")])
    with pytest.raises(MalformedKey):
        sign_note(TEXT, [_NamedSigner(peter_signer(), "bad name")])
    with pytest.raises(MalformedNote):
        sign_note(TEXT, [])  # no signature at all
    with pytest.raises(MalformedNote):
        sign_note("a\x01b\n", [peter_signer()])


# --- opening (Go TestOpen) -------------------------------------------------------------------

def _unverified(note: Note, verified) -> list[NoteSignature]:
    # Go's UnverifiedSigs: the signatures not verified, identical lines once, in order
    return [s for s in dict.fromkeys(note.signatures) if s not in verified]


def test_go_open_cases():
    names = {"PeterNeumann": go_sig("PeterNeumann"), "EnochRoot": go_sig("EnochRoot")}
    for case in GO["open"]:
        data = case["note"].encode()
        vs = [verifier(n) for n in case["verifiers"]]
        err = case.get("error")
        if err is None:
            note, verified = open_note(data, vs)
            assert note.text == TEXT
            assert [s.name for s in verified] == case["verified"]
            assert list(verified) == [names[n] for n in case["verified"]]
            unv = _unverified(note, verified)
            assert [s.name for s in unv] == case["unverified"], case["go"]
            if "unverified_base64" in case:
                got = [base64.b64encode(s.key_id + s.signature).decode() for s in unv]
                assert got == case["unverified_base64"]
        elif err == "note has no verifiable signatures":
            with pytest.raises(UnverifiedNote) as info:
                open_note(data, vs)
            assert [s.name for s in info.value.note.signatures] == case["unverified"]
        elif err.startswith("ambiguous key"):
            with pytest.raises(AmbiguousKey, match="EnochRoot\\+af0cfe78"):
                open_note(data, vs)
        elif err == "malformed note":
            with pytest.raises(MalformedNote):
                open_note(data, vs)
        elif err.startswith("invalid signature for key"):
            with pytest.raises(InvalidSignature, match="PeterNeumann\\+c74f20a3") as info:
                open_note(data, vs)
            assert not isinstance(info.value, UnverifiedNote)
        else:  # pragma: no cover
            raise AssertionError(err)


def test_go_open_case_inputs_match_their_go_expressions():
    # Go slices strings by byte: peterSig[:60] cuts inside the base64, past the 3-byte em dash.
    t, p, e = TEXT.encode(), PETER_LINE.encode(), ENOCH_LINE.encode()
    exprs = {
        'text+"\\n"+peterSig+enochSig': t + b"\n" + p + e,
        'text+"\\n"+enochSig': t + b"\n" + e,
        'text+"\\n"+peterSig': t + b"\n" + p,
        'text+"\\n"+strings.Repeat(peterSig, 101)': t + b"\n" + p * 101,
        'text+"\\n"+peterSig[:60]+"ABCD"+peterSig[60:]': t + b"\n" + p[:60] + b"ABCD" + p[60:],
        'text+"\\n"+peterSig+peterSig+enochSig+enochSig+enochSig[:60]+"ABCD"+enochSig[60:]':
            t + b"\n" + p + p + e + e + e[:60] + b"ABCD" + e[60:],
    }
    for case in GO["open"]:
        assert case["note"].encode() == exprs[case["go"]]
    bad = {
        "text": t,
        'text + "\\n"': t + b"\n",
        'text + "\\n" + peterSig[:len(peterSig)-1]': t + b"\n" + p[:-1],
        '"\\x01" + text + "\\n" + peterSig': b"\x01" + t + b"\n" + p,
        '"\\xff" + text + "\\n" + peterSig': b"\xff" + t + b"\n" + p,
        'text + "\\n" + peterSig + "Unexpected line.\\n"': t + b"\n" + p + b"Unexpected line.\n",
    }
    for m in GO["malformed_notes"]:
        if m["go"] in bad:
            assert bytes.fromhex(m["note_hex"]) == bad[m["go"]]
        else:
            assert "Bad Name" in m["go"]


def test_go_malformed_notes_rejected():
    assert len(GO["malformed_notes"]) == 7
    for m in GO["malformed_notes"]:
        data = bytes.fromhex(m["note_hex"])
        with pytest.raises(MalformedNote):
            parse_note(data)
        with pytest.raises(MalformedNote):
            open_note(data, [verifier("PeterNeumann")])


def test_unknown_keys_only_is_unverified():
    data = (TEXT + "\n" + PETER_LINE + ENOCH_LINE).encode()
    for vs in ([], [Ed25519Signer.generate("PeterNeumann").verifier()]):  # same name, other key
        with pytest.raises(UnverifiedNote) as info:
            open_note(data, vs)
        assert isinstance(info.value, InvalidSignature)
        assert info.value.note.text == TEXT


def test_same_key_id_other_name_is_unknown():
    # signed-note: "Verifiers MUST ignore signatures from unknown keys, even if they share a name
    # or ID (but not both) with a known key."
    line = PETER_LINE.replace("PeterNeumann", "CarmenSandiego")
    with pytest.raises(UnverifiedNote):
        open_note((TEXT + "\n" + line).encode(), [verifier("PeterNeumann")])


# --- tampering and malformed lines -----------------------------------------------------------

def test_tampered_text_fails():
    data = (TEXT.replace("answer", "Answer") + "\n" + PETER_LINE).encode()
    with pytest.raises(InvalidSignature, match="PeterNeumann"):
        open_note(data, [verifier("PeterNeumann")])


def test_tampered_signature_fails():
    raw = bytearray(base64.b64decode(GO["signatures"]["PeterNeumann"]["base64"]))
    raw[-1] ^= 1
    line = f"— PeterNeumann {base64.b64encode(bytes(raw)).decode()}\n"
    with pytest.raises(InvalidSignature):
        open_note((TEXT + "\n" + line).encode(), [verifier("PeterNeumann")])
    # a second, differing signature by a trusted key is verified too (and here fails)
    with pytest.raises(InvalidSignature):
        open_note((TEXT + "\n" + PETER_LINE + line).encode(), [verifier("PeterNeumann")])


def test_wrong_key_fails():
    # a verifier with the right name and key ID but another public key cannot exist (the key ID
    # is derived from the key), so "wrong key" = a key-ID collision forged by hand:
    class Impostor(Ed25519Verifier):
        pass

    v = Impostor("PeterNeumann", verifier("EnochRoot").public_key)
    object.__setattr__(v, "key_id", verifier("PeterNeumann").key_id)
    with pytest.raises(InvalidSignature):
        open_note((TEXT + "\n" + PETER_LINE).encode(), [v])


def test_duplicate_identical_signatures_are_one():
    data = (TEXT + "\n" + PETER_LINE * 3 + ENOCH_LINE * 2).encode()
    note, verified = open_note(data, [verifier("PeterNeumann"), verifier("EnochRoot")])
    assert len(note.signatures) == 5 and [s.name for s in verified] == ["PeterNeumann", "EnochRoot"]


def test_signature_count_limit():
    ok = (TEXT + "\n" + PETER_LINE * MAX_SIGNATURES).encode()
    assert len(parse_note(ok).signatures) == MAX_SIGNATURES
    assert MAX_SIGNATURES >= 16  # signed-note: MUST accept at least 16
    with pytest.raises(MalformedNote):
        parse_note((TEXT + "\n" + PETER_LINE * (MAX_SIGNATURES + 1)).encode())


@pytest.mark.parametrize(
    "line",
    [
        "- PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n",  # noqa: E501  hyphen, not em dash
        "—PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n",  # noqa: E501  no space
        "— PeterNeumann  x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n",  # noqa: E501  two spaces
        "— PeterNeumann\n",
        "— PeterNeumann \n",
        "—  x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n",  # noqa: E501  empty name
        "— Peter+Neumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n",  # noqa: E501
        "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM\n",  # noqa: E501  padding removed
        "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAN=\n",  # noqa: E501  non-zero padding bits
        "— PeterNeumann x08g_ZJkuBS9UG-SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n",  # noqa: E501  URL-safe alphabet
        "— PeterNeumann x08g\n",  # key ID only, no signature byte
        "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM= \n",  # noqa: E501  trailing space
    ],
)
def test_malformed_signature_lines(line):
    with pytest.raises(MalformedNote):
        parse_note((TEXT + "\n" + line).encode())


def test_non_canonical_base64_helper():
    assert b64decode_canonical("AA==") == b"\x00"
    for bad in ("AB==", "AA=", "A===", "AA==AA==", "A A=", "AA==\n"):
        with pytest.raises(ValueError):
            b64decode_canonical(bad)


# --- text rules and round trips --------------------------------------------------------------

@pytest.mark.parametrize(
    "text", ["x\n", "\n", "a\n\nb\n", "ends in a blank line\n\n", "é — ü\n", "tab-free DEL \x7f\n"]
)
def test_round_trip_texts(text):
    s = Ed25519Signer("example.com/k", hashlib.sha256(b"k").digest())
    data = sign_note(text, [s])
    note = parse_note(data)
    assert note.text == text and note.encode() == data
    n, verified = open_note(data, [s.verifier()])
    assert n == note and verified == note.signatures


@pytest.mark.parametrize("text", ["", "no newline", "a\tb\n", "cr\r\n", "nul\x00\n", "\ud800\n"])
def test_bad_texts(text):
    with pytest.raises(MalformedNote):
        sign_note(text, [peter_signer()])


def test_parse_rejects_non_bytes_and_bad_utf8():
    with pytest.raises(TypeError):
        parse_note(TEXT + "\n" + PETER_LINE)  # a str, not bytes
    for bad in (b"\xed\xa0\x80\n\n" + PETER_LINE.encode(), b"\xc0\xaf\n\n" + PETER_LINE.encode()):
        with pytest.raises(MalformedNote):
            parse_note(bad)


def test_signature_lines_block():
    sigs = parse_signature_lines(PETER_LINE + ENOCH_LINE)
    assert sigs == (go_sig("PeterNeumann"), go_sig("EnochRoot"))
    for bad in ("", PETER_LINE[:-1], PETER_LINE + "\n", "junk\n"):
        with pytest.raises(MalformedNote):
            parse_signature_lines(bad)


def test_errors_are_typed():
    assert issubclass(MalformedNote, DecodeError) and issubclass(MalformedKey, DecodeError)
    assert issubclass(UnverifiedNote, InvalidSignature)
    v = verifier("PeterNeumann")
    assert v.verify(TEXT.encode(), go_sig("PeterNeumann").signature) is None
    with pytest.raises(InvalidSignature):
        v.verify(TEXT.encode(), bytes(64))
    with pytest.raises(InvalidSignature):
        v.verify(TEXT.encode(), bytes(63))
