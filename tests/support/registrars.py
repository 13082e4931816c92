"""An election's registrars made by the crypto library alone (docs/protocol.md §8): each with its
Ed25519 signing key and its own RSA issuer key per weight class, the demo identity provider, and
what they put on the ledger (signed issuer keys, issuance batches). For the tests that build
ledgers without a server, and for the ballot box's tests.

Invariants: registrar i's keys are its own (no two registrars share an issuer key, so one
registrar's signature never counts as another's); a credential made here carries the signatures
of exactly the registrars asked for, each on its own blinding of the one credential message,
and each signature has its issuance record, with an attestation bound to every blinded message.
RSA keys are slow to make, so they are made once per process and shared by every build.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from crypto.attestation import DemoIdentityProvider, blinded_digest
from crypto.credential import (
    Credential,
    IssuerKey,
    IssuerSet,
    finalize_credential,
    generate_issuer_key,
    issue_credential,
    merge_credentials,
    request_credential,
    token_public_bytes,
)
from crypto.issuance import (
    Issuance,
    IssuerKeysRecord,
    batch,
    encode_issuances,
    encode_issuer_keys,
    sign_issuances,
    sign_issuer_keys,
)
from crypto.records import Registrar

NAMES = ("committee", "housing-bureau", "street-office")
_RSA: dict[tuple[int, int], rsa.RSAPrivateKey] = {}  # (registrar, weight) -> key, per process
_SIGNING = [Ed25519PrivateKey.from_private_bytes(bytes([i + 1]) * 32) for i in range(16)]
IDENTITY_PROVIDER = DemoIdentityProvider(Ed25519PrivateKey.from_private_bytes(b"\x77" * 32))


def rsa_key(registrar: int, weight: int) -> rsa.RSAPrivateKey:
    key = _RSA.get((registrar, weight))
    if key is None:
        key = _RSA[(registrar, weight)] = generate_issuer_key()
    return key


@dataclass
class Registrars:
    """``names`` sorted (a definition's order); ``threshold`` k; keys for ``weights``."""

    election_id: str
    weights: Sequence[int]
    threshold: int = 2
    names: Sequence[str] = NAMES
    idp: DemoIdentityProvider = field(default_factory=lambda: IDENTITY_PROVIDER)
    issued: dict[int, list[Issuance]] = field(default_factory=dict)  # registrar -> records
    batches: dict[int, int] = field(default_factory=dict)  # registrar -> batches made

    def __post_init__(self) -> None:
        self.names = tuple(sorted(self.names))

    def signing_key(self, r: int) -> Ed25519PrivateKey:
        return _SIGNING[r]

    @property
    def refs(self) -> tuple[Registrar, ...]:
        return tuple(Registrar(n, self.signing_key(i).public_key().public_bytes_raw())
                     for i, n in enumerate(self.names))

    @property
    def identity_provider(self) -> bytes:
        return self.idp.public_key.public_bytes_raw()

    def private(self, r: int) -> dict[int, rsa.RSAPrivateKey]:
        return {w: rsa_key(r, w) for w in self.weights}

    def issuer(self, r: int, weight: int) -> IssuerKey:
        return IssuerKey(self.election_id, weight, rsa_key(r, weight).public_key(), r)

    def issuer_set(self, registrars: Iterable[int] | None = None) -> IssuerSet:
        regs = range(len(self.names)) if registrars is None else registrars
        return IssuerSet(self.election_id, self.threshold,
                         {r: {w: self.issuer(r, w) for w in self.weights} for r in regs})

    def issuer_keys_body(self, r: int) -> bytes:
        """Registrar r's signed ``issuer-keys`` event body."""
        record = IssuerKeysRecord(self.names[r], tuple(
            (w, self.issuer(r, w).spki) for w in sorted(self.weights)))
        return encode_issuer_keys(sign_issuer_keys(self.signing_key(r), self.election_id,
                                                   record))

    def credential(self, owner_id: str, weight: int, token: Ed25519PrivateKey,
                   registrars: Sequence[int] | None = None, rng=None) -> Credential:
        """The honest sequence with each registrar in ``registrars`` (default the first k):
        blind for each, one attestation bound to every blinded message, each registrar signs
        blind (and keeps its issuance record), finalize each, merge."""
        regs = list(range(self.threshold)) if registrars is None else list(registrars)
        tpk = token_public_bytes(token)
        requests = [request_credential(self.issuer(r, weight), tpk, rng) for r in regs]
        att, sig = self.idp.attest(owner_id, self.election_id,
                                   [q.blinded_msg for q in requests])
        parts = []
        for r, q in zip(regs, requests, strict=True):
            blind = issue_credential(rsa_key(r, weight), q.blinded_msg)
            self.issued.setdefault(r, []).append(Issuance(
                owner_id, weight, att.canonical_bytes(), sig, blinded_digest(q.blinded_msg),
                blind))
            parts.append(finalize_credential(q, blind))
        return merge_credentials(parts)

    def issuances_body(self, r: int, *, final: bool = False,
                       items: Sequence[Issuance] | None = None) -> bytes:
        """Registrar r's next signed batch: its issuance records since its last batch (or
        ``items``), in owner-id order."""
        if items is None:
            items, self.issued[r] = self.issued.get(r, []), []
        seq = self.batches.get(r, 0)
        self.batches[r] = seq + 1
        return encode_issuances(sign_issuances(self.signing_key(r), self.election_id,
                                               batch(self.names[r], seq, final, items)))

