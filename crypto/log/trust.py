"""The trust bundle: a deployment's whole trust in one small document, pinned by every client
and never taken from the server it checks (docs/protocol.md §13).

It names the log (its origin and verifier key), the witnesses whose cosignatures count (their
validating verifier keys) with a quorum that is a strict majority of them, the identity
provider's key, and, once each election's ceremony has fixed them, the fingerprints of its
guardians' keys. Its canonical text is::

    ownervote-trust-bundle/v1
    origin <origin>
    log <log verifier key>
    witness <witness verifier key>                    one line each, sorted, distinct names
    quorum <k>                                        len(witnesses) / 2 < k <= len(witnesses)
    identity-provider <32-byte Ed25519 key, hex>
    registrar <name> <32-byte Ed25519 key, hex>       one line each, sorted by name
    guardian <subject> <index> <fingerprint, 64 hex>  sorted by (subject, index)
    development                                       only in a bundle that allows a weak quorum

every line ending in one newline, nothing else, nothing twice. Its fingerprint is SHA-256 of
those bytes; the short form a community posts on its notice board is the first 20 bytes in
RFC 4648 base32, in groups of four. Decoding accepts only the canonical text.

A ``development`` bundle admits a quorum of no more than half of the witnesses (none at all),
for a machine of one's own; its short fingerprint starts with ``DEV-`` so that nobody mistakes
it for a deployment's, and a log running so marks every checkpoint it signs with
:data:`DEVELOPMENT_EXTENSION`, which a deployment's bundle refuses. Nothing in the bundle knows
what a guardian is beyond its fingerprint: the election family computes fingerprints
(crypto.dkg.guardian_fingerprint).
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ..errors import DecodeError, InvalidSignature
from .checkpoint import Checkpoint, CosignatureVerifier, verify_checkpoint
from .note import Ed25519Verifier

MAGIC = "ownervote-trust-bundle/v1"
#: The extension line (C2SP tlog-checkpoint §Note text) a log without a majority of witnesses
#: writes into every checkpoint it signs: only a development bundle accepts such a checkpoint.
DEVELOPMENT_EXTENSION = "ownervote/development: no majority of witnesses co-signs this log"
SHORT_BYTES = 20
_HEX64 = re.compile(r"[0-9a-f]{64}")
_REGISTRAR = re.compile(r"[a-z0-9][a-z0-9.-]{0,63}")
_SUBJECT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,127}")


def is_majority(quorum: int, witnesses: int) -> bool:
    """Whether ``quorum`` cosignatures are a strict majority of ``witnesses`` (at least one):
    any two quorums then share a witness, so a minority of witnesses cannot co-sign a fork."""
    return witnesses > 0 and 2 * quorum > witnesses


class MalformedBundle(DecodeError):
    """Text that is not a canonical trust bundle, or a bundle whose trust does not hold
    together (a quorum that is no majority, a log key not named for the origin)."""


@dataclass(frozen=True)
class TrustBundle:
    origin: str
    log_key: Ed25519Verifier
    witnesses: tuple[CosignatureVerifier, ...]
    quorum: int
    identity_provider: bytes  # raw Ed25519 public key
    guardians: Mapping[tuple[str, int], bytes] = field(default_factory=dict)  # fingerprints
    development: bool = False
    registrars: Mapping[str, bytes] = field(default_factory=dict)  # name -> Ed25519 key

    def __post_init__(self) -> None:
        if self.log_key.name != self.origin:
            raise MalformedBundle("the log's key is not named for the origin")
        names = [w.name for w in self.witnesses]
        if len(set(names)) != len(names):
            raise MalformedBundle("two witness keys share a name")
        object.__setattr__(self, "witnesses", tuple(sorted(self.witnesses,
                                                           key=lambda w: w.vkey())))
        n = len(self.witnesses)
        if type(self.quorum) is not int or not 0 <= self.quorum <= n:
            raise MalformedBundle(f"the quorum must be between 0 and the {n} witnesses")
        if not self.development and not is_majority(self.quorum, n):
            raise MalformedBundle(f"a quorum of {self.quorum} of {n} witnesses is not a strict "
                                  "majority (only a development bundle may say so)")
        if len(self.identity_provider) != 32:
            raise MalformedBundle("the identity provider's key is 32 bytes")
        for (subject, index), fp in self.guardians.items():
            if not _SUBJECT.fullmatch(subject) or not 1 <= index <= 255 or len(fp) != 32:
                raise MalformedBundle("a guardian is a subject, an index 1..255 and a "
                                      "32-byte fingerprint")
        object.__setattr__(self, "guardians", dict(sorted(self.guardians.items())))
        for name, key in self.registrars.items():
            if not _REGISTRAR.fullmatch(name) or len(key) != 32:
                raise MalformedBundle("a registrar is a name [a-z0-9][a-z0-9.-]{0,63} and a "
                                      "32-byte Ed25519 key")
        if len(set(self.registrars.values())) != len(self.registrars):
            raise MalformedBundle("two registrars share a key")
        object.__setattr__(self, "registrars", dict(sorted(self.registrars.items())))

    # --- the document ---------------------------------------------------------------------------

    def encode(self) -> bytes:
        lines = [MAGIC, f"origin {self.origin}", f"log {self.log_key.vkey()}",
                 *(f"witness {w.vkey()}" for w in self.witnesses), f"quorum {self.quorum}",
                 f"identity-provider {self.identity_provider.hex()}",
                 *(f"registrar {n} {k.hex()}" for n, k in self.registrars.items()),
                 *(f"guardian {s} {i} {fp.hex()}" for (s, i), fp in self.guardians.items())]
        if self.development:
            lines.append("development")
        return "".join(line + "\n" for line in lines).encode()

    def digest(self) -> bytes:
        """SHA-256 of the canonical text: what a client pins."""
        return hashlib.sha256(self.encode()).digest()

    def fingerprint(self) -> str:
        """The short fingerprint for the notice board (or a QR code): 160 bits of the digest,
        base32 in groups of four; ``DEV-`` first for a development bundle."""
        b32 = base64.b32encode(self.digest()[:SHORT_BYTES]).decode()
        groups = "-".join(b32[i:i + 4] for i in range(0, len(b32), 4))
        return ("DEV-" if self.development else "") + groups

    # --- what it is for -------------------------------------------------------------------------

    def open_checkpoint(self, signed_note: bytes) -> Checkpoint:
        """The checkpoint of a note signed by the log and co-signed by the quorum; raises
        InvalidSignature / QuorumNotMet otherwise (crypto.log.checkpoint.verify_checkpoint). A
        checkpoint of a development log (:data:`DEVELOPMENT_EXTENSION`) opens only under a
        development bundle."""
        cp = verify_checkpoint(signed_note, self.log_key, self.witnesses, self.quorum,
                               origin=self.origin)[0]
        if DEVELOPMENT_EXTENSION in cp.extensions and not self.development:
            raise InvalidSignature("the checkpoint is a development log's (no majority of "
                                   "witnesses); this bundle trusts no such log")
        return cp

    def guardian_fingerprints(self, subject: str) -> dict[int, bytes]:
        """The pinned fingerprints of one election's guardians, by index (empty if none)."""
        return {i: fp for (s, i), fp in self.guardians.items() if s == subject}

    def with_guardians(self, subject: str, fingerprints: Mapping[int, bytes]) -> TrustBundle:
        """This bundle with one election's guardian fingerprints (replacing any it had)."""
        kept = {k: v for k, v in self.guardians.items() if k[0] != subject}
        kept.update({(subject, i): bytes(fp) for i, fp in fingerprints.items()})
        return TrustBundle(self.origin, self.log_key, self.witnesses, self.quorum,
                           self.identity_provider, kept, self.development, self.registrars)

    def with_registrars(self, registrars: Mapping[str, bytes]) -> TrustBundle:
        """This bundle with these registrars added (replacing a registrar of the same name)."""
        merged = {**self.registrars, **{n: bytes(k) for n, k in registrars.items()}}
        return TrustBundle(self.origin, self.log_key, self.witnesses, self.quorum,
                           self.identity_provider, self.guardians, self.development, merged)


def make_bundle(origin: str, log_vkey: str, witness_vkeys: Iterable[str], quorum: int,
                identity_provider: bytes, *, development: bool = False,
                registrars: Mapping[str, bytes] | None = None) -> TrustBundle:
    """A bundle from the keys' C2SP verifier strings (MalformedKey / MalformedBundle)."""
    return TrustBundle(origin, Ed25519Verifier.from_vkey(log_vkey),
                       tuple(CosignatureVerifier.from_vkey(v) for v in witness_vkeys), quorum,
                       bytes(identity_provider), {}, development,
                       {n: bytes(k) for n, k in (registrars or {}).items()})


def decode_bundle(data: bytes) -> TrustBundle:
    """The bundle of exactly its canonical text; MalformedBundle for anything else."""
    try:
        text = data.decode("utf-8", errors="strict")
    except (UnicodeDecodeError, AttributeError) as exc:
        raise MalformedBundle("a trust bundle is UTF-8 text") from exc
    if not text.endswith("\n"):
        raise MalformedBundle("every line of a trust bundle ends in a newline")
    lines = text[:-1].split("\n")
    if lines[0] != MAGIC:
        raise MalformedBundle(f"not a trust bundle (first line {MAGIC!r})")
    fields: dict[str, list[str]] = {}
    for line in lines[1:]:
        key, _, value = line.partition(" ")
        fields.setdefault(key, []).append(value)
    single = ("origin", "log", "quorum", "identity-provider")
    for key in single:
        if len(fields.get(key, [])) != 1:
            raise MalformedBundle(f"a trust bundle has one {key!r} line")
    unknown = set(fields) - {*single, "witness", "guardian", "registrar", "development"}
    if unknown:
        raise MalformedBundle(f"unknown line {sorted(unknown)[0]!r}")
    development = "development" in fields
    if development and fields["development"] != [""]:
        raise MalformedBundle("the development line has no value")
    quorum, idp = fields["quorum"][0], fields["identity-provider"][0]
    if not re.fullmatch(r"0|[1-9][0-9]*", quorum) or not _HEX64.fullmatch(idp):
        raise MalformedBundle("quorum is a decimal number; the identity provider 64 hex digits")
    guardians = {}
    for value in fields.get("guardian", []):
        parts = value.split(" ")
        if len(parts) != 3 or not re.fullmatch(r"[1-9][0-9]{0,2}", parts[1]) \
                or not _HEX64.fullmatch(parts[2]):
            raise MalformedBundle(f"a guardian line is <subject> <index> <fingerprint>: {value!r}")
        key = (parts[0], int(parts[1]))
        if key in guardians:
            raise MalformedBundle(f"guardian {key} appears twice")
        guardians[key] = bytes.fromhex(parts[2])
    registrars: dict[str, bytes] = {}
    for value in fields.get("registrar", []):
        parts = value.split(" ")
        if len(parts) != 2 or not _REGISTRAR.fullmatch(parts[0]) \
                or not _HEX64.fullmatch(parts[1]):
            raise MalformedBundle(f"a registrar line is <name> <key>: {value!r}")
        if parts[0] in registrars:
            raise MalformedBundle(f"registrar {parts[0]} appears twice")
        registrars[parts[0]] = bytes.fromhex(parts[1])
    bundle = TrustBundle(fields["origin"][0], Ed25519Verifier.from_vkey(fields["log"][0]),
                         tuple(CosignatureVerifier.from_vkey(v) for v in fields.get("witness",
                                                                                    [])),
                         int(quorum), bytes.fromhex(idp), guardians, development, registrars)
    if bundle.encode() != data:
        raise MalformedBundle("not the canonical text of its bundle (order, spacing or a "
                              "repeated line)")
    return bundle
