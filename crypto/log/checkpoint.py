"""Transparency-log checkpoints (C2SP tlog-checkpoint) and Ed25519 witness cosignatures (C2SP
tlog-cosignature ``cosignature/v1``), on top of :mod:`crypto.log.note`.

A checkpoint is a signed note whose text is these newline-terminated lines
(https://c2sp.org/tlog-checkpoint §Note text)::

    <origin>
    <tree size: decimal, no leading zeroes>
    <root hash: base64 of the 32-byte RFC 6962 Merkle tree hash>
    [<extension line>, ... (optional, non-empty)]

The log signs it with an ordinary Ed25519 note signature (type 0x01). A witness adds a
cosignature line (https://c2sp.org/tlog-cosignature §Format), signature type 0x04::

    key ID  = SHA-256(<name> || 0x0A || 0x04 || 32-byte Ed25519 public key)[:4]
    payload = key ID || u64 big-endian timestamp (POSIX seconds) || Ed25519 signature (64 bytes)
    signed  = "cosignature/v1\\n" || "time <timestamp decimal>\\n" || checkpoint body

(§Ed25519 signed message: the whole body including extension lines and the final newline, no
signature lines). :func:`verify_checkpoint` opens a checkpoint against the log key, a set of
trusted witness keys and a quorum, and raises unless all hold.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import ClassVar

from ..errors import (
    DecodeError,
    InvalidSignature,
    MalformedCheckpoint,
    QuorumNotMet,
    UnverifiedNote,
)
from .note import (
    ED25519_SIGNATURE_LEN,
    Ed25519Key,
    Ed25519SeedKey,
    Note,
    NoteSignature,
    Signer,
    Verifier,
    _has_control,
    b64decode_canonical,
    b64encode,
    ed25519_verify,
    open_note,
    parse_note,
    parse_signature_lines,
    sign_note,
)

SIG_TYPE_COSIGNATURE_V1 = 0x04  # signed-note §Signature types; tlog-cosignature §Format
COSIGNATURE_V1_HEADER = "cosignature/v1\n"
TIMESTAMP_LEN = 8
COSIGNATURE_LEN = TIMESTAMP_LEN + ED25519_SIGNATURE_LEN  # timestamped_signature, Ed25519 case
MAX_TIMESTAMP = 2**63 - 1  # tlog-cosignature §Format: "MUST NOT exceed 2^63 - 1"
HASH_LEN = 32  # RFC 6962 SHA-256 Merkle tree hash

# Limits of filippo.io/torchwood ParseCheckpoint: origin 1..255 bytes (also the ML-DSA
# cosigned_message's opaque log_origin<1..2^8-1>), tree size a non-negative int64.
MAX_ORIGIN_BYTES = 255
MAX_TREE_SIZE = 2**63 - 1

_DECIMAL = re.compile(r"0|[1-9][0-9]*")  # tlog-checkpoint §Note text 2: no leading zeroes


# --- checkpoint body (tlog-checkpoint §Note text) ---------------------------------------------

def _check_line(s: object, what: str) -> str:
    if not isinstance(s, str) or not s:
        raise MalformedCheckpoint(f"{what} must be a non-empty str")
    if "\n" in s or _has_control(s):
        raise MalformedCheckpoint(f"{what} contains a newline or control character")
    try:
        s.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise MalformedCheckpoint(f"{what} is not valid UTF-8") from exc
    return s


@dataclass(frozen=True)
class Checkpoint:
    """A log's tree head: origin, tree size, RFC 6962 root hash, optional extension lines."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_line(self.origin, "origin")
        if len(self.origin.encode("utf-8")) > MAX_ORIGIN_BYTES:
            raise MalformedCheckpoint(f"origin longer than {MAX_ORIGIN_BYTES} bytes")
        if type(self.size) is not int or not 0 <= self.size <= MAX_TREE_SIZE:
            raise MalformedCheckpoint("tree size must be an int in [0, 2^63 - 1]")
        if not isinstance(self.root_hash, (bytes, bytearray)) or len(self.root_hash) != HASH_LEN:
            raise MalformedCheckpoint(f"root hash is {HASH_LEN} bytes")
        exts = tuple(self.extensions)
        for e in exts:
            _check_line(e, "extension line")  # §Note text 4: extension lines MUST be non-empty
        object.__setattr__(self, "root_hash", bytes(self.root_hash))
        object.__setattr__(self, "extensions", exts)

    def body(self) -> str:
        """The note text: ``origin\\nsize\\nbase64(root)\\n`` then each extension line."""
        lines = [self.origin, str(self.size), b64encode(self.root_hash), *self.extensions]
        return "".join(line + "\n" for line in lines)


def parse_checkpoint(text: str | bytes) -> Checkpoint:
    """Parse a checkpoint body (the note text, no signatures); raise MalformedCheckpoint.

    Enforces tlog-checkpoint §Note text: at least three non-empty newline-terminated lines; a
    non-empty origin; the size in decimal without leading zeroes; the root hash 32 bytes of
    canonical standard base64; extension lines non-empty.
    """
    if isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedCheckpoint("checkpoint is not valid UTF-8") from exc
    if not isinstance(text, str):
        raise TypeError("a checkpoint body is str or bytes")
    if not text.endswith("\n"):
        raise MalformedCheckpoint("checkpoint must end in a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise MalformedCheckpoint("checkpoint has fewer than three lines")
    origin, size_s, root_s, *extensions = lines
    if not _DECIMAL.fullmatch(size_s):
        raise MalformedCheckpoint("tree size is not a decimal without leading zeroes")
    size = int(size_s)
    if size > MAX_TREE_SIZE:
        raise MalformedCheckpoint("tree size exceeds 2^63 - 1")
    try:
        root = b64decode_canonical(root_s)
    except ValueError as exc:
        raise MalformedCheckpoint("root hash is not canonical standard base64") from exc
    if len(root) != HASH_LEN:
        raise MalformedCheckpoint(f"root hash is {len(root)} bytes, not {HASH_LEN}")
    return Checkpoint(origin, size, root, tuple(extensions))


# --- cosignature/v1 (tlog-cosignature §Ed25519 signed message) --------------------------------

def cosignature_message(timestamp: int, body: str | bytes) -> bytes:
    """``cosignature/v1\\ntime <timestamp>\\n`` followed by the checkpoint body."""
    _check_timestamp(timestamp)
    if isinstance(body, str):
        body = body.encode("utf-8")
    return f"{COSIGNATURE_V1_HEADER}time {timestamp}\n".encode("ascii") + bytes(body)


def _check_timestamp(timestamp: object) -> int:
    if type(timestamp) is not int or not 0 <= timestamp <= MAX_TIMESTAMP:
        raise ValueError("a cosignature timestamp is an int in [0, 2^63 - 1]")
    return timestamp


def cosignature_timestamp(signature: NoteSignature | bytes) -> int:
    """The timestamp of a ``cosignature/v1`` signature (NOT a verification).

    Takes a :class:`NoteSignature` or the signature bytes after the key ID; raises DecodeError
    unless they are ``u64 timestamp || 64-byte Ed25519 signature`` with timestamp < 2^63.
    """
    raw = signature.signature if isinstance(signature, NoteSignature) else bytes(signature)
    if len(raw) != COSIGNATURE_LEN:
        raise DecodeError(f"a cosignature/v1 signature is {COSIGNATURE_LEN} bytes")
    t = int.from_bytes(raw[:TIMESTAMP_LEN], "big")
    if t > MAX_TIMESTAMP:
        raise DecodeError("cosignature timestamp exceeds 2^63 - 1")
    return t


def unix_now() -> int:
    """The current POSIX time in whole seconds (the default witness clock)."""
    return int(time.time())


@dataclass(frozen=True)
class CosignatureVerifier(Ed25519Key):
    """A witness's Ed25519 ``cosignature/v1`` key (signature type 0x04; tlog-cosignature
    §Format). Type 0x01 keys are refused: a cosignature key is configured as one, so a log key
    can never be mistaken for it."""

    SIG_TYPE: ClassVar[int] = SIG_TYPE_COSIGNATURE_V1
    WRONG_TYPE: ClassVar[str] = "not a cosignature/v1 key (type 0x{:02x})"

    def verify(self, msg: bytes, signature: bytes) -> None:
        """``signature`` = u64 timestamp || Ed25519 signature over cosignature_message."""
        label = f"{self.name}+{self.key_id.hex()}"
        try:
            t = cosignature_timestamp(signature)
        except DecodeError as exc:
            raise InvalidSignature(f"{label}: {exc}") from exc
        ed25519_verify(self._pk, cosignature_message(t, msg), signature[TIMESTAMP_LEN:], label)

    @staticmethod
    def timestamp(signature: NoteSignature | bytes) -> int:
        """The timestamp of a (verified) cosignature: see :func:`cosignature_timestamp`."""
        return cosignature_timestamp(signature)


@dataclass(frozen=True)
class CosignatureSigner(Ed25519SeedKey):
    """A witness's Ed25519 ``cosignature/v1`` signer (type 0x04). ``clock`` gives the timestamp
    (POSIX seconds) of each signature; :meth:`at` fixes it. It signs checkpoint bodies only."""

    SIG_TYPE: ClassVar[int] = SIG_TYPE_COSIGNATURE_V1
    VERIFIER: ClassVar[type[Ed25519Key]] = CosignatureVerifier
    WRONG_TYPE: ClassVar[str] = "not a cosignature/v1 key (type 0x{:02x})"

    clock: Callable[[], int] = field(default=unix_now, repr=False, compare=False)

    def at(self, timestamp: int) -> CosignatureSigner:
        """The same key, signing with the fixed ``timestamp``."""
        _check_timestamp(timestamp)
        return replace(self, clock=lambda: timestamp)

    def sign(self, msg: bytes) -> bytes:
        parse_checkpoint(msg)  # a witness cosigns checkpoints, nothing else
        t = _check_timestamp(self.clock())
        return t.to_bytes(TIMESTAMP_LEN, "big") + self._sk.sign(cosignature_message(t, msg))

    def cosign(self, checkpoint: Checkpoint) -> NoteSignature:
        """The cosignature line for ``checkpoint`` (the body of an add-checkpoint response)."""
        return NoteSignature(self.name, self.key_id, self.sign(checkpoint.body().encode("utf-8")))


# --- signed checkpoints -----------------------------------------------------------------------

@dataclass(frozen=True)
class SignedCheckpoint:
    """A checkpoint and its signature lines (the log's first), verified or not."""

    checkpoint: Checkpoint
    signatures: tuple[NoteSignature, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "signatures", tuple(self.signatures))
        Note(self.checkpoint.body(), self.signatures)  # the note rules (1..100 signatures)

    def encode(self) -> bytes:
        return Note(self.checkpoint.body(), self.signatures).encode()

    @classmethod
    def sign(cls, checkpoint: Checkpoint, log_signer: Signer) -> SignedCheckpoint:
        """The log signs the checkpoint body (an ordinary note signature)."""
        return cls.parse(sign_note(checkpoint.body(), [log_signer]))

    @classmethod
    def parse(cls, data: bytes) -> SignedCheckpoint:
        """Parse without verifying (use :func:`verify_checkpoint` to trust it)."""
        note = parse_note(data)
        return cls(parse_checkpoint(note.text), note.signatures)

    def with_signatures(
        self, signatures: Iterable[NoteSignature] | bytes | str
    ) -> SignedCheckpoint:
        """Merge signature lines (e.g. an add-checkpoint response body), unverified.

        An identical line is dropped; a line by a key (name, key ID) already present replaces
        that key's line in place (so the log's signature stays first); others are appended.
        """
        if isinstance(signatures, (bytes, bytearray, str)):
            signatures = parse_signature_lines(signatures)
        merged = list(self.signatures)
        for sig in signatures:
            if not isinstance(sig, NoteSignature):
                raise TypeError("signatures must be NoteSignature values")
            same_key = [i for i, s in enumerate(merged) if s.key == sig.key]
            if same_key:
                merged[same_key[0]] = sig
            else:
                merged.append(sig)
        return replace(self, signatures=tuple(merged))

    def cosign(self, *cosigners: CosignatureSigner) -> SignedCheckpoint:
        """Witness side: add each cosigner's cosignature."""
        return self.with_signatures([c.cosign(self.checkpoint) for c in cosigners])


def verify_checkpoint(
    data: bytes,
    log_verifier: Verifier,
    witness_verifiers: Sequence[CosignatureVerifier],
    quorum: int,
    *,
    origin: str | None = None,
) -> tuple[Checkpoint, tuple[tuple[str, int], ...]]:
    """Open a signed checkpoint under a log key and a witness quorum.

    Returns ``(checkpoint, cosigners)`` with ``cosigners`` the ``(witness name, timestamp)`` of
    each distinct trusted witness (counted by name) that cosigned, in note order. Raises
    :class:`MalformedNote` / :class:`MalformedCheckpoint` for bad syntax,
    :class:`UnverifiedNote` if the log's signature is absent, :class:`InvalidSignature` if any
    trusted signature fails or the origin is not ``origin`` (default: the log key's name, per
    tlog-checkpoint §Signatures "The log's key name ... SHOULD match the origin line"), and
    :class:`QuorumNotMet` if fewer than ``quorum`` trusted witnesses cosigned. Signature lines
    from unknown keys are ignored.
    """
    if type(quorum) is not int or quorum < 0:
        raise ValueError("quorum must be a non-negative int")
    witnesses = list(witness_verifiers)
    if not all(isinstance(w, CosignatureVerifier) for w in witnesses):
        raise TypeError("witness verifiers must be CosignatureVerifier values")
    try:
        note, verified = open_note(data, [log_verifier, *witnesses])
    except UnverifiedNote as exc:
        raise UnverifiedNote("checkpoint has no signature by the log key", exc.note) from exc
    log_key = (log_verifier.name, bytes(log_verifier.key_id))
    if not any(s.key == log_key for s in verified):
        raise UnverifiedNote("checkpoint has no signature by the log key", note)
    checkpoint = parse_checkpoint(note.text)
    expected = log_verifier.name if origin is None else origin
    if checkpoint.origin != expected:
        raise InvalidSignature(f"checkpoint origin {checkpoint.origin!r} is not {expected!r}")
    witness_keys = {(w.name, w.key_id) for w in witnesses}
    cosigners: dict[str, int] = {}
    for sig in verified:
        if sig.key in witness_keys and sig.name not in cosigners:
            cosigners[sig.name] = cosignature_timestamp(sig)
    if len(cosigners) < quorum:
        raise QuorumNotMet(len(cosigners), quorum)
    return checkpoint, tuple(cosigners.items())

