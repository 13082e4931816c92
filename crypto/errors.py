"""Typed errors raised by the cryptographic library.

Verification never answers a silent ``False``: it returns ``None`` on success and raises one of
these on failure, naming what failed.
"""

from __future__ import annotations


class CryptoError(Exception):
    """Base class of every error raised by :mod:`crypto`."""


class DecodeError(CryptoError, ValueError):
    """Bytes that are not the canonical encoding of the expected object.

    Wrong length, a point not on the curve, the identity where it is not allowed, a scalar that
    is not reduced modulo the group order.
    """


class WeakThreshold(DecodeError):
    """A definition whose threshold is below the floor (t ≥ 2 and t > n/2) without the explicit
    ``allow_weak_threshold``."""

    def __init__(self, guardians: int, threshold: int, detail: str = "") -> None:
        self.guardians = guardians
        self.threshold = threshold
        super().__init__(f"{detail} (needs k >= 2, or allow_weak_threshold)" if detail else
                         f"threshold {threshold} of {guardians} guardians is weak (needs t >= 2 "
                         "and t > n/2, or allow_weak_threshold)")


class UnknownEventKind(DecodeError):
    """A ledger event of a kind that no record family registered (crypto/encoding.py)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        super().__init__(f"unknown event kind {kind!r}")


class UnknownFamily(CryptoError):
    """A ledger event of a record family the verifier has no rules for (crypto/audit.py): it is
    refused, never passed over."""

    def __init__(self, family: str, kind: str) -> None:
        self.family = family
        self.kind = kind
        super().__init__(f"a {kind!r} event of the {family} family, which this verifier does "
                         "not check")


class InvalidProof(CryptoError):
    """A zero-knowledge proof did not verify. ``what`` names the proof."""

    def __init__(self, what: str, detail: str = "") -> None:
        self.what = what
        self.detail = detail
        super().__init__(f"{what}: {detail}" if detail else what)


class InvalidSignature(CryptoError):
    """A signature did not verify (RFC 9474 §4.5 "invalid signature", Ed25519, notes)."""


class AttestationRefused(CryptoError):
    """A genuine identity attestation (the provider's signature verifies) that does not allow
    this request (crypto/attestation.py). ``check`` names the field that refuses it:
    ``election_id`` (another election), ``expires_at`` (expired) or ``authorises`` (the blinded
    message is not one it authorises)."""

    def __init__(self, check: str, detail: str) -> None:
        self.check = check
        self.detail = detail
        super().__init__(f"{check}: {detail}")


class ExpiredAttestation(AttestationRefused):
    """A genuine attestation whose expiry has passed."""

    def __init__(self, detail: str = "the attestation has expired") -> None:
        super().__init__("expires_at", detail)


class WeakIssuerKey(DecodeError):
    """An issuer key outside docs/protocol.md §8.2: not RSA, under 2048 bits, or e ≠ 65537."""


class InvalidBallot(CryptoError):
    """An encrypted ballot failed a check; ``check`` names which (e.g. ``selection[2].proof``)."""

    def __init__(self, check: str, detail: str = "") -> None:
        self.check = check
        self.detail = detail
        super().__init__(f"{check}: {detail}" if detail else check)


class InvalidCredential(InvalidBallot):
    """A credential failed a check; ``check`` names which
    (``credential.signatures[1].signature``)."""


class InvalidShare(CryptoError):
    """A guardian's partial decryption (or DKG share) is invalid; ``guardian`` names whose."""

    def __init__(self, guardian: int, detail: str = "") -> None:
        self.guardian = guardian
        self.detail = detail
        super().__init__(f"guardian {guardian}: {detail}" if detail else f"guardian {guardian}")


class InsufficientShares(CryptoError):
    """Fewer than the threshold t of valid decryption shares."""


class DiscreteLogNotFound(CryptoError):
    """The plaintext of an exponential-ElGamal ciphertext is outside the searched range."""


class InconsistentTotals(CryptoError):
    """The public totals a bounded discrete log is sized by are impossible (docs/protocol.md
    §4.3): a roll whose total area or owners are not the sums over its weight classes, or a
    participation above the roll's. Checked before any discrete log, so that a forged record
    cannot make a verifier search up to 2^64. ``what`` names the total."""

    def __init__(self, what: str, detail: str) -> None:
        self.what = what
        self.detail = detail
        super().__init__(f"{what}: {detail}")


class DkgError(CryptoError):
    """A message of the distributed key generation is malformed or inconsistent."""


# RFC 9474 §4 names its error conditions; each is its own type here.
class BlindRsaError(CryptoError):
    """Base of the RFC 9474 error conditions."""


class MessageTooLong(BlindRsaError):
    """RFC 9474 §4.2: "message too long"."""


class EncodingError(BlindRsaError):
    """RFC 9474 §4.2: "encoding error"."""


class InvalidInput(BlindRsaError):
    """RFC 9474 §4.2: "invalid input" (message representative not coprime with n)."""


class BlindingError(BlindRsaError):
    """RFC 9474 §4.2: "blinding error" (blind r not invertible)."""


class MessageRepresentativeOutOfRange(BlindRsaError):
    """RFC 9474 §4.3: "message representative out of range"."""


class SigningFailure(BlindRsaError):
    """RFC 9474 §4.3: "signing failure" (the computed signature does not verify)."""


# C2SP signed notes and transparency-log checkpoints (crypto/log/note.py, crypto/log/checkpoint.py).
class MalformedNote(DecodeError):
    """c2sp.org/signed-note: bytes that are not a well-formed signed note (or note text)."""


class MalformedKey(DecodeError):
    """A signer or verifier key string (or key name) that is malformed, of an unknown type, or
    whose key ID does not match the key."""


class MalformedCheckpoint(DecodeError):
    """c2sp.org/tlog-checkpoint: note text that is not a well-formed checkpoint body."""


class AmbiguousKey(CryptoError):
    """Two trusted verifiers share a key name and key ID, and a signature line names them."""


class UnverifiedNote(InvalidSignature):
    """No signature from a trusted key verified (signed-note: the note MUST be rejected).

    ``note`` is the parsed, unverified note when one could be parsed (``None`` otherwise).
    """

    def __init__(self, message: str = "note has no verifiable signatures", note=None) -> None:
        self.note = note
        super().__init__(message)


class ForkedView(InvalidProof):
    """Two checkpoints of one log that no consistency proof joins: the server showed this
    client a fork of the ledger (crypto/log/view.py)."""

    def __init__(self, detail: str) -> None:
        super().__init__("forked view", detail)


class UnpinnedKey(InvalidSignature):
    """A key the pinned trust bundle does not name where it must (a guardian's key on the
    ledger that is not the one the community pinned)."""


class QuorumNotMet(InvalidSignature):
    """Fewer than the required number of distinct trusted witnesses cosigned a checkpoint."""

    def __init__(self, have: int, need: int) -> None:
        self.have = have
        self.need = need
        super().__init__(f"{have} trusted witness cosignature(s), quorum is {need}")


class WitnessRefused(CryptoError):
    """A witness's answer that is not its own co-signed checkpoint of the log: a key outside the
    bundle, another witness's cosignature, a line of an unknown key, no valid log signature
    (crypto/log/split_view.py). ``source`` is where it was asked."""

    def __init__(self, source: str, detail: str) -> None:
        self.source = source
        self.detail = detail
        super().__init__(f"the witness at {source}: {detail}")


class SplitView(ForkedView):
    """A witness co-signed a checkpoint that the log as this client downloaded it does not
    contain: the log showed the witness one history and this client another
    (crypto/log/split_view.py)."""

    def __init__(self, witness: str, source: str, witness_size: int, log_size: int,
                 detail: str) -> None:
        self.witness = witness
        self.source = source
        self.witness_size = witness_size
        self.log_size = log_size
        InvalidProof.__init__(self, "split view", f"witness {witness} (at {source}) co-signed "
                              f"size {witness_size}, the log downloaded has size {log_size}: "
                              f"{detail}")
