"""Signed notes (C2SP signed-note, https://c2sp.org/signed-note), byte-compatible with the Go
reference ``golang.org/x/mod/sumdb/note``.

A signed note is a UTF-8 text ending in a newline, a blank line, and one or more signature lines::

    <text, one or more lines, each ending in U+000A>
    <empty line>
    — <key name> <base64(key ID (4 bytes) || signature)>      (U+2014 em dash, U+0020 space)

Key ID = ``SHA-256(key name || 0x0A || signature type || public key)[:4]``; Ed25519 is signature
type ``0x01`` and signs the note text (including its final newline, not the blank line).

Verifier keys are ``<name>+<hex8 key ID>+<base64(type || public key)>`` and signer keys
``PRIVATE+KEY+<name>+<hex8 key ID>+<base64(type || Ed25519 seed)>`` (Go ``NewVerifier`` /
``NewSigner`` / ``GenerateKey``).

Verification never answers ``False``: :func:`open_note` returns the verified signatures or raises
(:class:`MalformedNote`, :class:`InvalidSignature`, :class:`UnverifiedNote`,
:class:`AmbiguousKey`). Deliberate differences from Go, all stricter: base64 must be canonical
(no non-zero padding bits, no embedded newlines), key names may not contain ASCII control
characters, and *every* distinct signature line from a trusted key is verified (signed-note
§Signatures: "If the key name and ID match a known key, verifiers MUST verify the signature"),
where Go checks only the first one per key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import secrets
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Self

from cryptography.exceptions import InvalidSignature as _OpenSSLInvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ..errors import AmbiguousKey, InvalidSignature, MalformedKey, MalformedNote, UnverifiedNote

SIG_TYPE_ED25519 = 0x01  # signed-note §Signature types
KEY_ID_LEN = 4
ED25519_PUBLIC_KEY_LEN = 32
ED25519_SEED_LEN = 32
ED25519_SIGNATURE_LEN = 64

# Go Open: "if numSig++; numSig > 100 { return nil, errMalformedNote }" (every line counts,
# duplicates included). signed-note §Format: verifiers MUST accept at least 16.
MAX_SIGNATURES = 100

SIGNATURE_PREFIX = "\u2014 "  # em dash, space (signed-note §Format)
SIGNER_KEY_PREFIX = "PRIVATE+KEY+"

# Go unicode.IsSpace: the Unicode White_Space property. (Python's str.isspace also accepts
# U+001C..U+001F, which Go does not; those are control characters, rejected separately.)
_WHITE_SPACE = frozenset(
    "\t\n\v\f\r \x85\xa0\u1680"
    + "".join(chr(c) for c in range(0x2000, 0x200B))
    + "\u2028\u2029\u202f\u205f\u3000"
)
_HEX8 = re.compile(r"[0-9a-fA-F]{8}")
_BASE64 = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")


# --- helpers ----------------------------------------------------------------------------------

def b64decode_canonical(s: str) -> bytes:
    """RFC 4648 §4 standard base64, padded, and canonical (re-encoding gives ``s`` back).

    Raises ``ValueError``. Rejecting non-zero padding bits keeps notes non-malleable: a given
    signature has exactly one textual form.
    """
    if not isinstance(s, str) or not _BASE64.fullmatch(s):
        raise ValueError("not canonical standard base64")
    try:
        raw = base64.b64decode(s, validate=True)
    except binascii.Error as exc:
        raise ValueError("not canonical standard base64") from exc
    if base64.b64encode(raw).decode("ascii") != s:
        raise ValueError("base64 has non-zero padding bits")
    return raw


def b64encode(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _has_control(s: str) -> bool:
    """ASCII control characters below U+0020 other than newline (signed-note §Format)."""
    return any(c < " " and c != "\n" for c in s)


def is_valid_key_name(name: object) -> bool:
    """signed-note §Format: non-empty, no Unicode spaces, no ``+``; also no control characters
    (they could never appear in a signature line) and valid UTF-8 (no lone surrogates)."""
    if not isinstance(name, str) or not name or "+" in name:
        return False
    if any(c in _WHITE_SPACE or c < " " for c in name):
        return False
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_note_text(text: object) -> str:
    """The note text rules (signed-note §Format); returns ``text`` or raises MalformedNote.

    The text ends in a newline and holds no control character but newline. It MAY contain empty
    lines (even end in one): the signatures start after the *last* empty line, and signature
    lines never contain an empty line, so the split is unambiguous.
    """
    if not isinstance(text, str):
        raise MalformedNote("note text must be a str")
    if not text.endswith("\n"):
        raise MalformedNote("note text must end in a newline")
    if _has_control(text):
        raise MalformedNote("note text contains a control character")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise MalformedNote("note text is not valid UTF-8") from exc
    return text


def key_id(name: str, sig_type: int, public_key: bytes) -> bytes:
    """signed-note §Signatures:
    ``SHA-256(key name || 0x0A || signature type || public key)[:4]``."""
    if not 0 <= sig_type <= 0xFF:
        raise ValueError("signature type is one byte")
    return hashlib.sha256(
        name.encode("utf-8") + b"\n" + bytes([sig_type]) + bytes(public_key)
    ).digest()[:KEY_ID_LEN]


# --- key strings (Go NewVerifier / NewSigner / GenerateKey) ------------------------------------

def encode_verifier_key(name: str, sig_type: int, public_key: bytes) -> str:
    """``<name>+<hex8 key ID>+<base64(type || public key)>``."""
    if not is_valid_key_name(name):
        raise MalformedKey(f"invalid key name {name!r}")
    kid = key_id(name, sig_type, public_key)
    return f"{name}+{kid.hex()}+{b64encode(bytes([sig_type]) + bytes(public_key))}"


def encode_signer_key(name: str, kid: bytes, sig_type: int, secret: bytes) -> str:
    """``PRIVATE+KEY+<name>+<hex8 key ID>+<base64(type || secret)>`` (key ID of the public key)."""
    if not is_valid_key_name(name):
        raise MalformedKey(f"invalid key name {name!r}")
    return f"{SIGNER_KEY_PREFIX}{name}+{bytes(kid).hex()}+{b64encode(bytes([sig_type]) + secret)}"


def _split_key(s: str, what: str) -> tuple[str, bytes, int, bytes]:
    # Go chop(): split at the first two '+'; the base64 part may itself contain '+'.
    name, sep1, rest = s.partition("+")
    hex8, sep2, b64 = rest.partition("+")
    if not sep1 or not sep2 or not _HEX8.fullmatch(hex8) or not is_valid_key_name(name):
        raise MalformedKey(f"malformed {what} key")
    try:
        raw = b64decode_canonical(b64)
    except ValueError as exc:
        raise MalformedKey(f"malformed {what} key: key data is not base64") from exc
    if not raw:
        raise MalformedKey(f"malformed {what} key: empty key data")
    return name, bytes.fromhex(hex8), raw[0], raw[1:]


def decode_verifier_key(vkey: str) -> tuple[str, bytes, int, bytes]:
    """Parse a verifier key into ``(name, key ID, signature type, public key)``.

    The key ID is checked against the key (Go ``NewVerifier``: "invalid verifier hash"); the
    caller checks the type and the key length.
    """
    if not isinstance(vkey, str):
        raise MalformedKey("a verifier key is a str")
    name, kid, sig_type, public = _split_key(vkey, "verifier")
    if key_id(name, sig_type, public) != kid:
        raise MalformedKey("verifier key ID does not match the key")
    return name, kid, sig_type, public


def decode_signer_key(skey: str) -> tuple[str, bytes, int, bytes]:
    """Parse a signer key into ``(name, key ID, signature type, secret)``.

    The key ID is that of the *public* key: the caller derives it and compares.
    """
    if not isinstance(skey, str) or not skey.startswith(SIGNER_KEY_PREFIX):
        raise MalformedKey("a signer key starts with PRIVATE+KEY+")
    return _split_key(skey[len(SIGNER_KEY_PREFIX):], "signer")


# --- signatures and notes ---------------------------------------------------------------------

@dataclass(frozen=True)
class NoteSignature:
    """One signature line: key name, 4-byte key ID, and the signature bytes after the key ID."""

    name: str
    key_id: bytes
    signature: bytes

    def __post_init__(self) -> None:
        if not is_valid_key_name(self.name):
            raise MalformedNote(f"invalid key name {self.name!r}")
        if not isinstance(self.key_id, (bytes, bytearray)) or len(self.key_id) != KEY_ID_LEN:
            raise MalformedNote("a key ID is 4 bytes")
        if not isinstance(self.signature, (bytes, bytearray)) or not self.signature:
            raise MalformedNote("empty signature")  # Go: len(key ID || sig) >= 5
        object.__setattr__(self, "key_id", bytes(self.key_id))
        object.__setattr__(self, "signature", bytes(self.signature))

    @property
    def key(self) -> tuple[str, bytes]:
        """``(name, key ID)``: the identity of the signing key (signed-note §Signatures)."""
        return (self.name, self.key_id)

    def line(self) -> str:
        """``— <name> <base64(key ID || signature)>\\n``."""
        return f"{SIGNATURE_PREFIX}{self.name} {b64encode(self.key_id + self.signature)}\n"


def parse_signature_line(line: str) -> NoteSignature:
    """One signature line without its final newline (Go ``Open``'s per-line checks)."""
    if not line.startswith(SIGNATURE_PREFIX):
        raise MalformedNote("a signature line starts with an em dash and a space")
    name, _, b64 = line[len(SIGNATURE_PREFIX):].partition(" ")
    if not is_valid_key_name(name) or not b64:
        raise MalformedNote("malformed signature line")
    try:
        raw = b64decode_canonical(b64)
    except ValueError as exc:
        raise MalformedNote("signature is not canonical base64") from exc
    if len(raw) <= KEY_ID_LEN:
        raise MalformedNote("signature too short")
    return NoteSignature(name, raw[:KEY_ID_LEN], raw[KEY_ID_LEN:])


def _decode_note_bytes(data: object) -> str:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError("a signed note is bytes")
    try:
        s = bytes(data).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedNote("note is not valid UTF-8") from exc
    if _has_control(s):
        raise MalformedNote("note contains a control character")
    return s


def parse_signature_lines(data: bytes | str) -> tuple[NoteSignature, ...]:
    """A block of one or more signature lines, each ending in a newline (e.g. the body of a
    c2sp.org/tlog-witness ``add-checkpoint`` response)."""
    s = data if isinstance(data, str) else _decode_note_bytes(data)
    if _has_control(s):
        raise MalformedNote("signature lines contain a control character")
    if not s.endswith("\n"):
        raise MalformedNote("signature lines end in a newline")
    lines = s[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise MalformedNote(f"more than {MAX_SIGNATURES} signatures")
    return tuple(parse_signature_line(line) for line in lines)


@dataclass(frozen=True)
class Note:
    """A note text and its signature lines, in the order of the encoding (none verified)."""

    text: str
    signatures: tuple[NoteSignature, ...]

    def __post_init__(self) -> None:
        check_note_text(self.text)
        sigs = tuple(self.signatures)
        if not all(isinstance(s, NoteSignature) for s in sigs):
            raise TypeError("signatures must be NoteSignature values")
        if not sigs:
            raise MalformedNote("a signed note has at least one signature")
        if len(sigs) > MAX_SIGNATURES:
            raise MalformedNote(f"more than {MAX_SIGNATURES} signatures")
        object.__setattr__(self, "signatures", sigs)

    def encode(self) -> bytes:
        """text || "\\n" || signature lines."""
        return (self.text + "\n" + "".join(s.line() for s in self.signatures)).encode("utf-8")


def parse_note(data: bytes) -> Note:
    """Parse a signed note without verifying anything (signed-note §Format; Go ``Open``'s syntax
    checks). ``parse_note(d).encode() == d`` for every accepted ``d``."""
    s = _decode_note_bytes(data)
    split = s.rfind("\n\n")  # the LAST empty line separates text and signatures
    if split < 0:
        raise MalformedNote("no blank line before the signatures")
    text, sigs = s[: split + 1], s[split + 2:]
    if not sigs or not sigs.endswith("\n"):
        raise MalformedNote("the signature block must be non-empty and end in a newline")
    return Note(text, parse_signature_lines(sigs))


# --- signers and verifiers --------------------------------------------------------------------

class Verifier(ABC):
    """Checks signatures by one key, identified by ``name`` and the 4-byte ``key_id``."""

    name: str
    key_id: bytes

    @abstractmethod
    def verify(self, msg: bytes, signature: bytes) -> None:
        """Return if ``signature`` (the bytes after the key ID) signs ``msg``; else raise
        :class:`InvalidSignature`."""

    def vkey(self) -> str:  # pragma: no cover - every concrete verifier overrides it
        raise NotImplementedError


class Signer(ABC):
    """Signs with one key, identified by ``name`` and the 4-byte ``key_id``."""

    name: str
    key_id: bytes

    @abstractmethod
    def sign(self, msg: bytes) -> bytes:
        """The signature bytes (without the key ID) over the note text ``msg``."""


def _ed25519_public(seed: bytes) -> tuple[Ed25519PrivateKey, bytes]:
    if not isinstance(seed, (bytes, bytearray)) or len(seed) != ED25519_SEED_LEN:
        raise MalformedKey("an Ed25519 seed is 32 bytes")
    sk = Ed25519PrivateKey.from_private_bytes(bytes(seed))
    return sk, sk.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def _ed25519_public_key(public_key: bytes) -> Ed25519PublicKey:
    if not isinstance(public_key, (bytes, bytearray)) or len(public_key) != ED25519_PUBLIC_KEY_LEN:
        raise MalformedKey("an Ed25519 public key is 32 bytes")
    try:
        return Ed25519PublicKey.from_public_bytes(bytes(public_key))
    except ValueError as exc:
        raise MalformedKey("invalid Ed25519 public key") from exc


def ed25519_verify(pk: Ed25519PublicKey, msg: bytes, signature: bytes, what: str) -> None:
    """RFC 8032 Ed25519 verification; raises InvalidSignature naming ``what``."""
    if len(signature) != ED25519_SIGNATURE_LEN:
        raise InvalidSignature(f"{what}: an Ed25519 signature is 64 bytes")
    try:
        pk.verify(bytes(signature), bytes(msg))
    except _OpenSSLInvalidSignature as exc:
        raise InvalidSignature(f"{what}: Ed25519 signature does not verify") from exc


@dataclass(frozen=True)
class Ed25519Key(Verifier):
    """An Ed25519 public key of one signature type: what every verifier of this module's note
    signatures shares. Subclasses set ``SIG_TYPE`` and implement ``verify``."""

    SIG_TYPE: ClassVar[int]
    WRONG_TYPE: ClassVar[str] = "unknown verifier algorithm 0x{:02x}"

    name: str
    public_key: bytes
    key_id: bytes = field(init=False)
    _pk: Ed25519PublicKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not is_valid_key_name(self.name):
            raise MalformedKey(f"invalid key name {self.name!r}")
        object.__setattr__(self, "_pk", _ed25519_public_key(self.public_key))
        object.__setattr__(self, "public_key", bytes(self.public_key))
        object.__setattr__(self, "key_id", key_id(self.name, self.SIG_TYPE, self.public_key))

    def vkey(self) -> str:
        return encode_verifier_key(self.name, self.SIG_TYPE, self.public_key)

    @classmethod
    def from_vkey(cls, vkey: str) -> Self:
        """Go ``NewVerifier``: name, key ID, type and the 32-byte key all checked; a key of
        another signature type is refused, so a log key and a witness key never mix."""
        name, _, sig_type, public = decode_verifier_key(vkey)
        if sig_type != cls.SIG_TYPE:
            raise MalformedKey(cls.WRONG_TYPE.format(sig_type))
        if len(public) != ED25519_PUBLIC_KEY_LEN:
            raise MalformedKey("an Ed25519 public key is 32 bytes")
        return cls(name, public)


@dataclass(frozen=True)
class Ed25519Verifier(Ed25519Key):
    """Signature type 0x01 (signed-note §Ed25519 signatures): Ed25519 over the note text."""

    SIG_TYPE: ClassVar[int] = SIG_TYPE_ED25519

    def verify(self, msg: bytes, signature: bytes) -> None:
        ed25519_verify(self._pk, msg, signature, f"{self.name}+{self.key_id.hex()}")


@dataclass(frozen=True)
class Ed25519SeedKey(Signer):
    """An Ed25519 signing key of one signature type from a 32-byte RFC 8032 seed
    (deterministic signatures): what every signer of this module's note signatures shares.
    Subclasses set ``SIG_TYPE`` and ``VERIFIER`` and implement ``sign``."""

    SIG_TYPE: ClassVar[int]
    VERIFIER: ClassVar[type[Ed25519Key]]
    WRONG_TYPE: ClassVar[str] = "unknown signer algorithm 0x{:02x}"

    name: str
    seed: bytes = field(repr=False)
    public_key: bytes = field(init=False)
    key_id: bytes = field(init=False)
    _sk: Ed25519PrivateKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not is_valid_key_name(self.name):
            raise MalformedKey(f"invalid key name {self.name!r}")
        sk, public = _ed25519_public(self.seed)
        object.__setattr__(self, "seed", bytes(self.seed))
        object.__setattr__(self, "_sk", sk)
        object.__setattr__(self, "public_key", public)
        object.__setattr__(self, "key_id", key_id(self.name, self.SIG_TYPE, public))

    def verifier(self):
        return self.VERIFIER(self.name, self.public_key)

    def skey(self) -> str:
        return encode_signer_key(self.name, self.key_id, self.SIG_TYPE, self.seed)

    @classmethod
    def from_skey(cls, skey: str, **kwargs) -> Self:
        """Go ``NewSigner``: ``PRIVATE+KEY+<name>+<hex8 key ID>+<base64(type || seed)>``; the
        type must be this class's and the key ID must match the key derived from the seed."""
        name, kid, sig_type, secret = decode_signer_key(skey)
        if sig_type != cls.SIG_TYPE:
            raise MalformedKey(cls.WRONG_TYPE.format(sig_type))
        if len(secret) != ED25519_SEED_LEN:
            raise MalformedKey("an Ed25519 seed is 32 bytes")
        signer = cls(name, secret, **kwargs)
        if signer.key_id != kid:
            raise MalformedKey("signer key ID does not match the key")
        return signer

    @classmethod
    def generate(cls, name: str, **kwargs) -> Self:
        return cls(name, secrets.token_bytes(ED25519_SEED_LEN), **kwargs)


@dataclass(frozen=True)
class Ed25519Signer(Ed25519SeedKey):
    """Signature type 0x01 signer."""

    SIG_TYPE: ClassVar[int] = SIG_TYPE_ED25519
    VERIFIER: ClassVar[type[Ed25519Key]] = Ed25519Verifier

    def sign(self, msg: bytes) -> bytes:
        return self._sk.sign(bytes(msg))


# --- sign and open ----------------------------------------------------------------------------

def sign_note(
    text: str, signers: Sequence[Signer], existing: Sequence[NoteSignature] = ()
) -> bytes:
    """Sign ``text`` with every signer and return the whole signed note (Go ``note.Sign``).

    ``existing`` signatures come first, except those by a key (name, key ID) that also signs
    now: the new signature replaces them. New signatures follow in the order of ``signers``.
    """
    check_note_text(text)
    msg = text.encode("utf-8")
    fresh: list[NoteSignature] = []
    keys: set[tuple[str, bytes]] = set()
    for s in signers:
        if not is_valid_key_name(s.name) or len(bytes(s.key_id)) != KEY_ID_LEN:
            raise MalformedKey("invalid signer name or key ID")
        keys.add((s.name, bytes(s.key_id)))
        fresh.append(NoteSignature(s.name, s.key_id, s.sign(msg)))
    kept = [e for e in existing if e.key not in keys]
    return Note(text, tuple(kept + fresh)).encode()


def open_note(
    data: bytes, verifiers: Iterable[Verifier]
) -> tuple[Note, tuple[NoteSignature, ...]]:
    """Parse and verify a signed note (signed-note §Signatures; Go ``note.Open``).

    Returns ``(note, verified)``: the parsed note and its distinct signatures that verified
    under a trusted key, in order. Signature lines from unknown keys (name and key ID not both
    matching a verifier) are ignored. Raises :class:`MalformedNote` for bad syntax,
    :class:`InvalidSignature` if a signature from a trusted key fails, :class:`AmbiguousKey` if
    a signature names a key two verifiers share, and :class:`UnverifiedNote` (carrying the
    parsed note) if no trusted signature is present.
    """
    note = parse_note(data)
    index: dict[tuple[str, bytes], list[Verifier]] = {}
    for v in verifiers:
        index.setdefault((v.name, bytes(v.key_id)), []).append(v)
    msg = note.text.encode("utf-8")
    verified: list[NoteSignature] = []
    for sig in note.signatures:
        found = index.get(sig.key)
        if not found:
            continue  # unknown key: MUST be ignored
        label = f"{sig.name}+{sig.key_id.hex()}"
        if len(found) > 1:
            raise AmbiguousKey(f"ambiguous key {label}")
        if sig in verified:
            continue  # an identical line, already verified
        try:
            found[0].verify(msg, sig.signature)
        except InvalidSignature as exc:
            raise InvalidSignature(f"invalid signature for key {label}") from exc
        verified.append(sig)
    if not verified:
        raise UnverifiedNote(note=note)
    return note, tuple(verified)
