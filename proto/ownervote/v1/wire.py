"""Protobuf ↔ domain objects: the ONE mapping of the ``ownervote.v1`` messages, both directions,
shared by the server and the clients (and mirrored by the TypeScript SDK).

Requests and replies are mapped here and nowhere else. Every field is decoded with the strict
rules of crypto/ (points on the curve, reduced scalars, exact lengths); a field that does not map
is a :class:`WireError` naming its path (e.g. ``cast_ballot.ballot.selections[1].proof
.branches[0].a``), which the server answers as INVALID_ARGUMENT (server/errors.py). The numbers
of the protobuf enums are mapped to the records' named enums (crypto.records) by name, checked at
import. A reply that is inconsistent in itself (an election hash that is not the hash of the
joint key and the contest, a result fraction that is not its parts' quotient) is refused as the
server's lie: InvalidProof or WireError.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from fractions import Fraction
from typing import TypeVar

import grpc
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_der_public_key
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from crypto.attestation import MAX_AUTHORISED, Attestation
from crypto.ballot import Contest, ContestKind, EncryptedBallot, EncryptedSelection
from crypto.codec import BALLOT_VERSION, CAST_BALLOT_VERSION
from crypto.credential import (
    MAX_REGISTRARS,
    CastBallot,
    Credential,
    CredentialSignature,
    IssuerKey,
)
from crypto.dkg import Complaint, Dealing, EncryptedShare, GuardianPublicKey
from crypto.elgamal import Ciphertext
from crypto.encoding import lp
from crypto.errors import DecodeError, InvalidProof, WeakThreshold
from crypto.group import (
    POINT_LEN,
    SCALAR_LEN,
    decode_point,
    decode_scalar,
    encode_point,
    encode_scalar,
)
from crypto.log.checkpoint import CosignatureVerifier
from crypto.log.note import Ed25519Verifier
from crypto.log.receipt import ProvenEntry, Receipt
from crypto.proofs import DisjunctiveBranch, DisjunctiveProof, DleqProof, SchnorrProof
from crypto.public_election import PublicElection
from crypto.records import (
    DEFAULT_MAX_BALLOTS_PER_TOKEN,
    DecryptionSharesRecord,
    DefinitionRecord,
    ElectionState,
    Registrar,
    ResultOutcome,
    ResultRecord,
    RulePreset,
    RuleRecord,
    is_weak_registrar_threshold,
    is_weak_threshold,
    preset_rule,
)
from crypto.threshold import DecryptionShare
from ownervote.v1 import crypto_pb2, election_pb2, ledger_pb2

T = TypeVar("T")
MAX_BRANCHES = 65
MAX_SHARES = 1024  # the decryption-shares record's limit
MAX_LABEL = 64  # bytes
MAX_MOTION = 4096  # characters
MAX_CSV = 64 << 20  # bytes of a roll
ELECTION_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,127}")
# a roll's id is "<community id>/<16 hex digits>", and an event's subject is at most 128 bytes
COMMUNITY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,110}")


class WireError(ValueError):
    """A protobuf field that does not map to a domain object."""

    def __init__(self, field: str, message: str, reason: str = "INVALID_FIELD") -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.reason = reason


def invalid(field: str, message: str, reason: str = "INVALID_FIELD") -> WireError:
    return WireError(field, message, reason)


def _field(path: str, decode: Callable[[bytes], T], data: bytes) -> T:
    try:
        return decode(data)
    except DecodeError as exc:
        raise invalid(path, str(exc), "UNDECODABLE") from exc


# --- the enums: protobuf numbers ↔ the records' named enums, by name ------------------------------

def _by_name(enum_type, pb_enum, prefix: str) -> tuple[dict, dict]:
    to_pb = {m: pb_enum.Value(prefix + m.name) for m in enum_type}
    return to_pb, {n: m for m, n in to_pb.items()}


_STATE_PB, _STATE = _by_name(ElectionState, election_pb2.ElectionState, "ELECTION_STATE_")
_PRESET_PB, _PRESET = _by_name(RulePreset, election_pb2.RulePreset, "RULE_PRESET_")
_OUTCOME_PB, _OUTCOME = _by_name(ResultOutcome, election_pb2.Outcome, "OUTCOME_")
_KIND_PB = {ContestKind.REFERENDUM: election_pb2.CONTEST_KIND_REFERENDUM,
            ContestKind.COMMITTEE: election_pb2.CONTEST_KIND_COMMITTEE}
_KIND = {n: k for k, n in _KIND_PB.items()}


def state_pb(state: ElectionState) -> int:
    return _STATE_PB[ElectionState(state)]


def state(path: str, number: int) -> ElectionState:
    if number not in _STATE:
        raise invalid(path, "DRAFT .. PUBLISHED")
    return _STATE[number]


def preset_pb(preset: RulePreset) -> int:
    return _PRESET_PB[RulePreset(preset)]


def outcome_pb(outcome: ResultOutcome) -> int:
    return _OUTCOME_PB[ResultOutcome(outcome)]


def outcome(path: str, number: int) -> ResultOutcome:
    if number not in _OUTCOME:
        raise invalid(path, "NO_QUORUM, PASSED or REJECTED")
    return _OUTCOME[number]


# --- identifiers ------------------------------------------------------------------------------

def election_id(path: str, value: str) -> str:
    """``value`` if it is an election id (1..128 of [a-z0-9-], starting alphanumeric)."""
    if not ELECTION_ID.fullmatch(value):
        raise invalid(path, "1..128 of [a-z0-9-]")
    return value


# --- ciphertexts, proofs, ballots (crypto.proto) ------------------------------------------------

def ciphertext(path: str, c: crypto_pb2.Ciphertext) -> Ciphertext:
    return Ciphertext(_field(f"{path}.alpha", decode_point, c.alpha),
                      _field(f"{path}.beta", decode_point, c.beta))


def disjunctive(path: str, p: crypto_pb2.DisjunctiveProof) -> DisjunctiveProof:
    if not 1 <= len(p.branches) <= MAX_BRANCHES:
        raise invalid(f"{path}.branches", f"1..{MAX_BRANCHES} branches")
    out = []
    for i, b in enumerate(p.branches):
        q = f"{path}.branches[{i}]"
        out.append(DisjunctiveBranch(_field(f"{q}.a", decode_point, b.a),
                                     _field(f"{q}.b", decode_point, b.b),
                                     _field(f"{q}.challenge", decode_scalar, b.challenge),
                                     _field(f"{q}.response", decode_scalar, b.response)))
    return DisjunctiveProof(tuple(out))


def ballot(path: str, b: crypto_pb2.EncryptedBallot) -> EncryptedBallot:
    if len(b.election_hash) != 32:
        raise invalid(f"{path}.election_hash", "32 bytes")
    if len(b.token_public_key) != 32:
        raise invalid(f"{path}.token_public_key", "32 bytes")
    if not 1 <= len(b.selections) <= 64:
        raise invalid(f"{path}.selections", "1..64 selections")
    sels = tuple(EncryptedSelection(ciphertext(f"{path}.selections[{i}].ciphertext", s.ciphertext),
                                    disjunctive(f"{path}.selections[{i}].proof", s.proof))
                 for i, s in enumerate(b.selections))
    return EncryptedBallot(b.election_id, bytes(b.election_hash), bytes(b.token_public_key), sels,
                           disjunctive(f"{path}.limit_proof", b.limit_proof))


def _credential_signatures_ok(c: crypto_pb2.Credential) -> str | None:
    """None if the signatures' count, order and lengths are right, else what is wrong."""
    if not 1 <= len(c.signatures) <= MAX_REGISTRARS:
        return f"1..{MAX_REGISTRARS} registrar signatures"
    last = -1
    for s in c.signatures:
        if not last < s.registrar < MAX_REGISTRARS:
            return "registrar indices strictly increasing, below 16"
        if len(s.msg_prefix) != 32 or not 1 <= len(s.signature) <= 1024:
            return "a msg_prefix is 32 bytes, a signature 1..1024"
        last = s.registrar
    return None


def credential(path: str, c: crypto_pb2.Credential) -> Credential:
    if c.weight == 0 or c.weight >= 1 << 63:
        raise invalid(f"{path}.weight", "a positive 63-bit integer")
    if len(c.token_public_key) != 32:
        raise invalid(f"{path}.token_public_key", "a token key is 32 bytes")
    wrong = _credential_signatures_ok(c)
    if wrong:
        raise invalid(f"{path}.signatures", wrong)
    return Credential(c.election_id, c.weight, bytes(c.token_public_key), tuple(
        CredentialSignature(s.registrar, bytes(s.msg_prefix), bytes(s.signature))
        for s in c.signatures))


def cast_ballot(path: str, c: crypto_pb2.CastBallot) -> CastBallot:
    if not c.HasField("ballot") or not c.HasField("credential"):
        raise invalid(path, "ballot and credential are required")
    if len(c.signature) != 64:
        raise invalid(f"{path}.signature", "an Ed25519 signature is 64 bytes")
    if c.counter == 0:
        raise invalid(f"{path}.counter", "a revote counter starts at 1")
    return CastBallot(ballot(f"{path}.ballot", c.ballot),
                      credential(f"{path}.credential", c.credential), c.counter,
                      bytes(c.signature))


def _disjunctive_bytes(p: crypto_pb2.DisjunctiveProof, out: list) -> bool:
    if not 1 <= len(p.branches) <= MAX_BRANCHES:
        return False
    out.append(len(p.branches).to_bytes(1, "big"))
    for b in p.branches:
        if (len(b.a) != POINT_LEN or len(b.b) != POINT_LEN or len(b.challenge) != SCALAR_LEN
                or len(b.response) != SCALAR_LEN):
            return False
        out += [b.a, b.b, b.challenge, b.response]
    return True


def cast_ballot_bytes(c: crypto_pb2.CastBallot) -> bytes | None:
    """The canonical bytes (crypto.codec.encode_cast_ballot) of the cast ballot that
    :func:`cast_ballot` maps ``c`` to, concatenated from the fields without decoding a point (a
    point or scalar field is copied as it is; the strict decoding accepts exactly one encoding
    of each). ``None`` unless every length and count :func:`cast_ballot` checks is right and
    every point and scalar field has its exact length; then the bytes decode
    (crypto.codec.decode_cast_ballot) exactly when every point and scalar does, i.e. when
    :func:`cast_ballot` maps ``c`` (or an election id is over the codec's 128 bytes)."""
    if (not c.HasField("ballot") or not c.HasField("credential") or len(c.signature) != 64
            or c.counter == 0):
        return None
    b, cr = c.ballot, c.credential
    if (len(b.election_hash) != 32 or len(b.token_public_key) != 32
            or not 1 <= len(b.selections) <= 64):
        return None
    out = [BALLOT_VERSION.to_bytes(1, "big"), lp(b.election_id.encode()), b.election_hash,
           b.token_public_key, len(b.selections).to_bytes(1, "big")]
    for s in b.selections:
        ct = s.ciphertext
        if len(ct.alpha) != POINT_LEN or len(ct.beta) != POINT_LEN:
            return None
        out += [ct.alpha, ct.beta]
        if not _disjunctive_bytes(s.proof, out):
            return None
    if not _disjunctive_bytes(b.limit_proof, out):
        return None
    if (cr.weight == 0 or cr.weight >= 1 << 63 or len(cr.token_public_key) != 32
            or _credential_signatures_ok(cr) is not None):
        return None
    credential = (lp(cr.election_id.encode()) + cr.weight.to_bytes(8, "big")
                  + cr.token_public_key + len(cr.signatures).to_bytes(1, "big")
                  + b"".join(s.registrar.to_bytes(1, "big") + s.msg_prefix + lp(s.signature)
                             for s in cr.signatures))
    return (CAST_BALLOT_VERSION.to_bytes(1, "big") + c.counter.to_bytes(4, "big")
            + lp(b"".join(out)) + lp(credential) + c.signature)


def _disjunctive_pb(p: DisjunctiveProof) -> crypto_pb2.DisjunctiveProof:
    return crypto_pb2.DisjunctiveProof(branches=[crypto_pb2.DisjunctiveBranch(
        a=encode_point(br.a), b=encode_point(br.b), challenge=encode_scalar(br.challenge),
        response=encode_scalar(br.response)) for br in p.branches])


def cast_ballot_pb(c: CastBallot) -> crypto_pb2.CastBallot:
    b = c.ballot
    return crypto_pb2.CastBallot(
        ballot=crypto_pb2.EncryptedBallot(
            election_id=b.election_id, election_hash=b.election_hash,
            token_public_key=b.token_public_key,
            selections=[crypto_pb2.EncryptedSelection(
                ciphertext=crypto_pb2.Ciphertext(alpha=encode_point(s.ciphertext.alpha),
                                                 beta=encode_point(s.ciphertext.beta)),
                proof=_disjunctive_pb(s.proof)) for s in b.selections],
            limit_proof=_disjunctive_pb(b.limit_proof)),
        credential=crypto_pb2.Credential(
            election_id=c.credential.election_id, weight=c.credential.weight,
            token_public_key=c.credential.token_public_key,
            signatures=[crypto_pb2.CredentialSignature(
                registrar=s.registrar, msg_prefix=s.msg_prefix, signature=s.signature)
                for s in c.credential.signatures]),
        signature=c.signature, counter=c.counter)


def cast_ballot_request_pb(c: CastBallot) -> election_pb2.CastBallotRequest:
    return election_pb2.CastBallotRequest(cast_ballot=cast_ballot_pb(c))


# --- receipts and the log (ledger.proto) -----------------------------------------------------

def receipt_pb(r: Receipt) -> ledger_pb2.Receipt:
    return ledger_pb2.Receipt(index=r.index, leaf_hash=r.leaf_hash,
                              inclusion_proof=list(r.inclusion_proof), signed_note=r.signed_note)


def receipt(r: ledger_pb2.Receipt) -> Receipt:
    """A receipt as the server sent it (what it proves is crypto.log.receipt's check)."""
    return Receipt(r.index, bytes(r.leaf_hash), tuple(bytes(h) for h in r.inclusion_proof),
                   bytes(r.signed_note))


def election_records_pb(signed_note: bytes, consistency_proof: Sequence[bytes],
                        entries: Iterable[ProvenEntry]
                        ) -> election_pb2.GetElectionRecordsResponse:
    return election_pb2.GetElectionRecordsResponse(
        signed_note=signed_note, consistency_proof=list(consistency_proof),
        entries=[election_pb2.ProvenEntry(index=e.index, entry=e.entry,
                                          inclusion_proof=list(e.inclusion_proof))
                 for e in entries])


def election_records(r: election_pb2.GetElectionRecordsResponse
                     ) -> tuple[bytes, tuple[bytes, ...], tuple[ProvenEntry, ...]]:
    """The checkpoint note, the consistency proof and the proven entries, as the server sent
    them (what they prove is crypto.election_view's check)."""
    for i, e in enumerate(r.entries):
        if any(len(h) != 32 for h in e.inclusion_proof) or len(e.inclusion_proof) > 64:
            raise invalid(f"entries[{i}].inclusion_proof", "at most 64 hashes of 32 bytes")
    if any(len(h) != 32 for h in r.consistency_proof) or len(r.consistency_proof) > 128:
        raise invalid("consistency_proof", "at most 128 hashes of 32 bytes")
    return (bytes(r.signed_note), tuple(bytes(h) for h in r.consistency_proof),
            tuple(ProvenEntry(e.index, bytes(e.entry), tuple(bytes(h) for h in e.inclusion_proof))
                  for e in r.entries))


def log_info_pb(origin: str, log_verifier: Ed25519Verifier,
                witnesses: Sequence[CosignatureVerifier], quorum: int,
                development: bool = False) -> ledger_pb2.GetLogInfoResponse:
    return ledger_pb2.GetLogInfoResponse(
        origin=origin, log_verifier_key=log_verifier.vkey(),
        witnesses=[ledger_pb2.Witness(name=w.name, verifier_key=w.vkey()) for w in witnesses],
        quorum=quorum, development=development)


def log_info(info: ledger_pb2.GetLogInfoResponse
             ) -> tuple[Ed25519Verifier, tuple[CosignatureVerifier, ...], int]:
    """The log's verifier key, its witnesses' and the quorum, as a log states them."""
    try:
        return (Ed25519Verifier.from_vkey(info.log_verifier_key),
                tuple(CosignatureVerifier.from_vkey(w.verifier_key) for w in info.witnesses),
                info.quorum)
    except DecodeError as exc:
        raise invalid("witnesses", str(exc), "UNDECODABLE") from exc


# --- an election: contest, rule, definition, the published election, the result -------------

def contest_pb(c: Contest) -> election_pb2.Contest:
    return election_pb2.Contest(kind=_KIND_PB[c.kind], options=list(c.options),
                                min_selections=c.min_selections,
                                max_selections=c.max_selections)


def contest(path: str, c: election_pb2.Contest) -> Contest:
    if c.kind == election_pb2.CONTEST_KIND_REFERENDUM:
        if list(c.options) not in ([], list(Contest.referendum().options)):
            raise invalid(f"{path}.options", "a referendum's options are fixed")
        return Contest.referendum()
    if c.kind != election_pb2.CONTEST_KIND_COMMITTEE:
        raise invalid(f"{path}.kind", "REFERENDUM or COMMITTEE")
    try:
        return Contest.committee(list(c.options), c.min_selections, c.max_selections)
    except ValueError as exc:
        raise invalid(path, str(exc)) from exc


def fraction_pb(f: Fraction) -> election_pb2.Fraction:
    return election_pb2.Fraction(numerator=f.numerator, denominator=f.denominator)


def _fraction_pair(path: str, f: election_pb2.Fraction) -> tuple[int, int]:
    if f.denominator == 0 or f.numerator > f.denominator:
        raise invalid(path, "a fraction in [0, 1] with a positive denominator")
    return f.numerator, f.denominator


def share_of(part: int, whole: int) -> Fraction:
    """part / whole (0 when whole is 0: nobody took part)."""
    return Fraction(part, whole) if whole else Fraction(0)


_RULE_FRACTIONS = ("quorum_area", "quorum_headcount", "approval_area", "approval_headcount")


def rule_pb(r: RuleRecord) -> election_pb2.Rule:
    fr = [election_pb2.Fraction(numerator=n, denominator=d) for n, d in r.fractions]
    return election_pb2.Rule(preset=preset_pb(r.preset), quorum_area=fr[0],
                             quorum_headcount=fr[1], approval_area=fr[2],
                             approval_headcount=fr[3], strict=r.strict)


def rule(path: str, r: election_pb2.Rule) -> RuleRecord:
    """A preset's fractions come from rules.art278 (whatever the message carries beside it);
    EXPLICIT takes the message's."""
    preset = _PRESET.get(r.preset)
    if preset is None:
        raise invalid(f"{path}.preset", "ORDINARY, MAJOR or EXPLICIT")
    if preset is not RulePreset.EXPLICIT:
        return preset_rule(preset)
    fractions = tuple(_fraction_pair(f"{path}.{f}", getattr(r, f)) for f in _RULE_FRACTIONS)
    try:
        return RuleRecord(preset, fractions, r.strict)
    except DecodeError as exc:
        raise invalid(path, str(exc)) from exc


def definition_pb(d: DefinitionRecord) -> election_pb2.ElectionDefinition:
    return new_definition_pb(d.election_id, d.roll_id, d.motion, d.contest, d.rule, d.open_time,
                             d.close_time, d.guardians, d.threshold,
                             ceremony_deadline=d.ceremony_deadline,
                             max_ballots_per_token=d.max_ballots_per_token,
                             allow_weak_threshold=d.allow_weak_threshold,
                             registrars=d.registrars,
                             registrar_threshold=d.registrar_threshold,
                             identity_provider=d.identity_provider)


def new_definition_pb(election_id: str, roll_id: str, motion: str, contest: Contest,
                      rule: RuleRecord, open_time: int, close_time: int, guardians: int,
                      threshold: int, *, ceremony_deadline: int,
                      max_ballots_per_token: int = DEFAULT_MAX_BALLOTS_PER_TOKEN,
                      allow_weak_threshold: bool = False,
                      registrars: Sequence[Registrar] = (), registrar_threshold: int = 0,
                      identity_provider: bytes = b"") -> election_pb2.ElectionDefinition:
    """What an administrator defines (the roll's hash is the server's to fill in; the identity
    provider too when left empty)."""
    out = election_pb2.ElectionDefinition(
        election_id=election_id, roll_id=roll_id, motion=motion, contest=contest_pb(contest),
        rule=rule_pb(rule), guardians=guardians, threshold=threshold,
        max_ballots_per_token=max_ballots_per_token, allow_weak_threshold=allow_weak_threshold,
        registrars=[election_pb2.RegistrarRef(name=r.name, key=r.key) for r in registrars],
        registrar_threshold=registrar_threshold, identity_provider_key=identity_provider)
    out.open_time.seconds = open_time
    out.close_time.seconds = close_time
    out.ceremony_deadline.seconds = ceremony_deadline
    return out


def registrars(path: str, refs) -> tuple[Registrar, ...]:
    out = []
    for i, r in enumerate(refs):
        try:
            out.append(Registrar(r.name, bytes(r.key)))
        except DecodeError as exc:
            raise invalid(f"{path}[{i}]", str(exc)) from exc
    names = [r.name for r in out]
    if not 1 <= len(out) <= MAX_REGISTRARS or names != sorted(set(names)):
        raise invalid(path, f"1..{MAX_REGISTRARS} registrars, sorted by name, each once")
    return tuple(out)


def definition(d: election_pb2.ElectionDefinition, roll_hash: bytes,
               path: str = "definition", identity_provider: bytes = b"") -> DefinitionRecord:
    """Validate and map; every refusal names its field."""
    if not ELECTION_ID.fullmatch(d.election_id):
        raise invalid(f"{path}.election_id", "1..128 of [a-z0-9-], starting alphanumeric")
    if not d.motion or len(d.motion) > MAX_MOTION:
        raise invalid(f"{path}.motion", f"1..{MAX_MOTION} characters")
    c = contest(f"{path}.contest", d.contest)
    r = rule(f"{path}.rule", d.rule)
    if not d.HasField("open_time") or not d.HasField("close_time") or \
            d.open_time.seconds >= d.close_time.seconds or d.open_time.seconds <= 0:
        raise invalid(f"{path}.open_time", "open_time must be set and before close_time")
    if not d.HasField("ceremony_deadline") or \
            not 0 < d.ceremony_deadline.seconds <= d.open_time.seconds:
        raise invalid(f"{path}.ceremony_deadline",
                      "ceremony_deadline must be set, positive and at or before open_time")
    if not 1 <= d.threshold <= d.guardians <= 255:
        raise invalid(f"{path}.threshold", "need 1 <= threshold <= guardians <= 255")
    if not d.allow_weak_threshold and is_weak_threshold(d.guardians, d.threshold):
        raise invalid(f"{path}.threshold", str(WeakThreshold(d.guardians, d.threshold)),
                      "WEAK_THRESHOLD")
    cap = d.max_ballots_per_token or DEFAULT_MAX_BALLOTS_PER_TOKEN  # 0: unset
    if not 1 <= cap <= 255:
        raise invalid(f"{path}.max_ballots_per_token", "1..255 ballots per token")
    regs = registrars(f"{path}.registrars", d.registrars)
    if not 1 <= d.registrar_threshold <= len(regs):
        raise invalid(f"{path}.registrar_threshold", "need 1 <= k <= registrars")
    if not d.allow_weak_threshold and is_weak_registrar_threshold(d.registrar_threshold):
        raise invalid(f"{path}.registrar_threshold", "a credential threshold of 1 lets one "
                      "registrar mint ballots (needs k >= 2, or allow_weak_threshold)",
                      "WEAK_THRESHOLD")
    idp = bytes(d.identity_provider_key) or bytes(identity_provider)
    if len(idp) != 32:
        raise invalid(f"{path}.identity_provider_key", "an Ed25519 key is 32 bytes")
    try:
        return DefinitionRecord(d.election_id, d.roll_id, roll_hash, d.motion, c, r,
                                d.open_time.seconds, d.close_time.seconds, d.guardians,
                                d.threshold, d.ceremony_deadline.seconds, regs,
                                d.registrar_threshold, idp, cap, d.allow_weak_threshold)
    except DecodeError as exc:
        raise invalid(path, str(exc)) from exc


def election_pb(e: PublicElection) -> election_pb2.Election:
    out = election_pb2.Election(definition=definition_pb(e.definition),
                                state=state_pb(e.state), roll_hash=e.definition.roll_hash,
                                total_area=e.total_area, total_owners=e.total_owners)
    if e.context is not None:
        out.joint_public_key = encode_point(e.joint_public_key)
        out.election_hash = e.context.hash
    for registrar, keys in sorted(e.issuers.items()):
        for weight, key in sorted(keys.items()):
            out.issuer_keys.add(weight=weight, spki=key.spki, registrar=registrar,
                                owners=e.class_owners.get(weight, 0))
    return out


def _issuer(path: str, election_id: str, k: election_pb2.IssuerKey) -> IssuerKey:
    if k.registrar >= MAX_REGISTRARS:
        raise invalid(f"{path}.registrar", f"a registrar index is below {MAX_REGISTRARS}")
    try:
        key = load_der_public_key(k.spki)
    except ValueError as exc:
        raise invalid(f"{path}.spki", "not a DER public key", "UNDECODABLE") from exc
    if not isinstance(key, rsa.RSAPublicKey):
        raise invalid(f"{path}.spki", "not an RSA key")
    issuer = IssuerKey(election_id, k.weight, key, k.registrar)
    if issuer.spki != k.spki:
        raise invalid(f"{path}.spki", "not canonical DER")
    return issuer


def election(e: election_pb2.Election, path: str = "election") -> PublicElection:
    """The published election; InvalidProof if its election hash is not the one recomputed from
    the joint key and the contest (a server cannot make a phone encrypt for another key or
    contest unnoticed)."""
    if len(e.roll_hash) != 32:
        raise invalid(f"{path}.roll_hash", "32 bytes")
    d = definition(e.definition, bytes(e.roll_hash), f"{path}.definition")
    joint = (_field(f"{path}.joint_public_key", decode_point, e.joint_public_key)
             if e.joint_public_key else None)
    issuers: dict[int, dict[int, IssuerKey]] = {}
    owners = {}
    for i, k in enumerate(e.issuer_keys):
        keys = issuers.setdefault(k.registrar, {})
        if k.weight in keys:
            raise invalid(f"{path}.issuer_keys[{i}].weight",
                          "a registrar's weight class appears twice")
        keys[k.weight] = _issuer(f"{path}.issuer_keys[{i}]", d.election_id, k)
        owners[k.weight] = k.owners
    try:
        out = PublicElection(d, state(f"{path}.state", e.state), e.total_area, e.total_owners,
                             joint, issuers, owners)
    except DecodeError as exc:
        raise invalid(path, str(exc)) from exc
    if out.context is not None and out.context.hash != e.election_hash:
        raise InvalidProof("election_hash", "the server's election hash is not the one "
                           "recomputed from the joint key and the contest")
    return out


def result_pb(election_id: str, options: Sequence[str], r: ResultRecord,
              receipt_: Receipt, entry: bytes = b"") -> election_pb2.GetResultResponse:
    return election_pb2.GetResultResponse(entry=entry,
        election_id=election_id, participating_area=r.participating_area,
        participating_owners=r.participating_owners, quorum_met=r.quorum_met,
        options=[election_pb2.OptionResult(
            name=name, area=r.areas[i], headcount=r.counts[i],
            area_fraction=fraction_pb(share_of(r.areas[i], r.participating_area)),
            headcount_fraction=fraction_pb(share_of(r.counts[i], r.participating_owners)),
            outcome=outcome_pb(r.outcomes[i])) for i, name in enumerate(options)],
        receipt=receipt_pb(receipt_), guardians=list(r.guardians))


def result(r: election_pb2.GetResultResponse) -> tuple[ResultRecord, tuple[str, ...], Receipt]:
    """The published result record, its option names and its receipt; the fractions the server
    states beside the totals must be exactly their quotients."""
    for i, o in enumerate(r.options):
        for name, part, whole in (("area_fraction", o.area, r.participating_area),
                                  ("headcount_fraction", o.headcount, r.participating_owners)):
            f = getattr(o, name)
            if f.denominator == 0 or Fraction(f.numerator, f.denominator) != \
                    share_of(part, whole):
                raise invalid(f"options[{i}].{name}", "not the option's share of the "
                              "participation", "INCONSISTENT_RESULT")
    try:
        record = ResultRecord(tuple(o.headcount for o in r.options),
                              tuple(o.area for o in r.options), r.participating_owners,
                              r.participating_area, r.quorum_met,
                              tuple(outcome(f"options[{i}].outcome", o.outcome)
                                    for i, o in enumerate(r.options)), tuple(r.guardians))
    except DecodeError as exc:
        raise invalid("options", str(exc)) from exc
    return record, tuple(o.name for o in r.options), receipt(r.receipt)


# --- registration: identity attestations, credential requests ----------------------------------

def attestation_pb(att: Attestation, signature: bytes) -> election_pb2.IdentityAttestation:
    a = election_pb2.IdentityAttestation(owner_id=att.owner_id, election_id=att.election_id,
                                         nonce=att.nonce, signature=signature,
                                         authorises=list(att.authorises))
    a.expires_at.seconds = att.expires_at
    return a


def attestation(a: election_pb2.IdentityAttestation,
                path: str = "attestation") -> tuple[Attestation, bytes]:
    """The attestation and its signature (whether the signature verifies is the identity
    check's question)."""
    election_id(f"{path}.election_id", a.election_id)
    if not a.HasField("expires_at"):
        raise invalid(f"{path}.expires_at", "required")
    if len(a.authorises) > MAX_AUTHORISED:
        raise invalid(f"{path}.authorises", f"at most {MAX_AUTHORISED} digests")
    for i, d in enumerate(a.authorises):
        if len(d) != 32:
            raise invalid(f"{path}.authorises[{i}]", "a SHA-256 digest is 32 bytes")
        if i and d <= a.authorises[i - 1]:
            raise invalid(f"{path}.authorises[{i}]", "the digests are strictly increasing")
    try:
        att = Attestation(a.owner_id, a.election_id, bytes(a.nonce), a.expires_at.seconds,
                          tuple(bytes(d) for d in a.authorises))
    except DecodeError as exc:
        raise invalid(path, str(exc)) from exc
    if len(a.signature) != 64:
        raise invalid(f"{path}.signature", "an Ed25519 signature is 64 bytes")
    return att, bytes(a.signature)


def credential_request_pb(att: Attestation, signature: bytes, weight: int,
                          blinded_msg: bytes) -> election_pb2.RequestCredentialRequest:
    return election_pb2.RequestCredentialRequest(attestation=attestation_pb(att, signature),
                                                 weight=weight, blinded_msg=blinded_msg)


def eligibility_request_pb(att: Attestation,
                           signature: bytes) -> election_pb2.GetEligibilityRequest:
    return election_pb2.GetEligibilityRequest(attestation=attestation_pb(att, signature))


# --- the key ceremony -------------------------------------------------------------------------

def _schnorr(path: str, p: crypto_pb2.SchnorrProof) -> SchnorrProof:
    return SchnorrProof(_field(f"{path}.commitment", decode_point, p.commitment),
                        _field(f"{path}.response", decode_scalar, p.response))


def _dleq(path: str, p: crypto_pb2.DleqProof) -> DleqProof:
    return DleqProof(_field(f"{path}.commitment_g", decode_point, p.commitment_g),
                     _field(f"{path}.commitment_h", decode_point, p.commitment_h),
                     _field(f"{path}.response", decode_scalar, p.response))


def _dleq_pb(p: DleqProof) -> crypto_pb2.DleqProof:
    return crypto_pb2.DleqProof(commitment_g=encode_point(p.commitment_g),
                                commitment_h=encode_point(p.commitment_h),
                                response=encode_scalar(p.response))


def guardian_index(path: str, i: int) -> int:
    if not 1 <= i <= 255:
        raise invalid(path, "a guardian index is 1..255")
    return i


def guardian_key(k: election_pb2.GuardianKey, path: str = "key") -> GuardianPublicKey:
    return GuardianPublicKey(guardian_index(f"{path}.index", k.index),
                             _field(f"{path}.encryption_key", decode_point, k.encryption_key),
                             _schnorr(f"{path}.proof", k.proof))


def dealing(d: election_pb2.Dealing, path: str = "dealing") -> Dealing:
    if not 1 <= len(d.commitments) <= 255 or not 1 <= len(d.shares) <= 255:
        raise invalid(path, "1..255 commitments and shares")
    shares = tuple(EncryptedShare(guardian_index(f"{path}.shares[{i}].recipient", s.recipient),
                                  _field(f"{path}.shares[{i}].ephemeral", decode_point,
                                         s.ephemeral), bytes(s.ciphertext))
                   for i, s in enumerate(d.shares))
    return Dealing(guardian_index(f"{path}.dealer", d.dealer),
                   tuple(_field(f"{path}.commitments[{i}]", decode_point, c)
                         for i, c in enumerate(d.commitments)),
                   _schnorr(f"{path}.constant_proof", d.constant_proof), shares)


def complaint(c: election_pb2.Complaint, path: str = "complaint") -> Complaint:
    return Complaint(guardian_index(f"{path}.dealer", c.dealer),
                     guardian_index(f"{path}.complainer", c.complainer),
                     _field(f"{path}.shared_point", decode_point, c.shared_point),
                     _dleq(f"{path}.proof", c.proof))


def schnorr_pb(p: SchnorrProof) -> crypto_pb2.SchnorrProof:
    return crypto_pb2.SchnorrProof(commitment=encode_point(p.commitment),
                                   response=encode_scalar(p.response))


def guardian_key_pb(k: GuardianPublicKey) -> election_pb2.GuardianKey:
    return election_pb2.GuardianKey(index=k.index, encryption_key=encode_point(k.encryption_key),
                                    proof=schnorr_pb(k.proof))


def dealing_pb(d: Dealing) -> election_pb2.Dealing:
    return election_pb2.Dealing(
        dealer=d.dealer, commitments=[encode_point(x) for x in d.commitments],
        constant_proof=schnorr_pb(d.constant_proof),
        shares=[election_pb2.EncryptedShare(recipient=s.recipient,
                                            ephemeral=encode_point(s.ephemeral),
                                            ciphertext=s.ciphertext) for s in d.shares])


def complaint_pb(x: Complaint) -> election_pb2.Complaint:
    return election_pb2.Complaint(dealer=x.dealer, complainer=x.complainer,
                                  shared_point=encode_point(x.shared_point),
                                  proof=_dleq_pb(x.proof))


def ceremony_pb(keys: Iterable[GuardianPublicKey], dealings: Iterable[Dealing],
                complaints: Iterable[Complaint], joint_public_key: bytes | None = None,
                qualified: Iterable[int] = ()) -> election_pb2.GetCeremonyResponse:
    out = election_pb2.GetCeremonyResponse(
        keys=[guardian_key_pb(k) for k in keys], dealings=[dealing_pb(d) for d in dealings],
        complaints=[complaint_pb(x) for x in complaints])
    if joint_public_key is not None:
        out.joint_public_key = joint_public_key
        out.qualified.extend(sorted(qualified))
    return out


def ceremony(c: election_pb2.GetCeremonyResponse
             ) -> tuple[tuple[GuardianPublicKey, ...], tuple[Dealing, ...],
                        tuple[Complaint, ...]]:
    """The ceremony's public messages (keys, dealings, complaints), each decoded strictly."""
    return (tuple(guardian_key(k, f"keys[{i}]") for i, k in enumerate(c.keys)),
            tuple(dealing(d, f"dealings[{i}]") for i, d in enumerate(c.dealings)),
            tuple(complaint(x, f"complaints[{i}]") for i, x in enumerate(c.complaints)))


# --- the tally -------------------------------------------------------------------------------

def decryption_shares(guardian: int, shares) -> DecryptionSharesRecord:
    """A SubmitDecryptionShares request's guardian and shares → the ledger record (labels
    distinct, 1..1024 shares; which labels are wanted is the tally's check)."""
    g = guardian_index("guardian", guardian)
    if not 1 <= len(shares) <= MAX_SHARES:
        raise invalid("shares", f"1..{MAX_SHARES} shares, one per non-trivial aggregate")
    seen: set[str] = set()
    out = []
    for i, s in enumerate(shares):
        path = f"shares[{i}]"
        if not 1 <= len(s.label.encode()) <= MAX_LABEL:
            raise invalid(f"{path}.label", f"1..{MAX_LABEL} bytes, e.g. option[0].count")
        if s.label in seen:
            raise invalid(f"{path}.label", f"{s.label!r} appears twice", "DUPLICATE_LABEL")
        seen.add(s.label)
        out.append((s.label, DecryptionShare(g, _field(f"{path}.share", decode_point, s.share),
                                             _dleq(f"{path}.proof", s.proof))))
    return DecryptionSharesRecord(g, tuple(out))


def decryption_share_pb(label: str, s: DecryptionShare) -> election_pb2.DecryptionShare:
    return election_pb2.DecryptionShare(label=label, share=encode_point(s.share),
                                        proof=_dleq_pb(s.proof))


def decryption_shares_request_pb(election_id_: str, record: DecryptionSharesRecord
                                 ) -> election_pb2.SubmitDecryptionSharesRequest:
    return election_pb2.SubmitDecryptionSharesRequest(
        election_id=election_id_, guardian=record.guardian,
        shares=[decryption_share_pb(label, s) for label, s in record.shares])


# --- rich status details (google.rpc.Status), the client side -------------------------------

def details_of(error: grpc.aio.AioRpcError | grpc.RpcError) -> dict:
    """Client side: decode the rich status of a failed call into a plain dict (for tests/CLIs)."""
    status = rpc_status.from_call(error) if hasattr(error, "trailing_metadata") else None
    out: dict = {"code": error.code(), "message": error.details(), "reason": None,
                 "field": None, "metadata": {}, "retry_delay": None}
    if status is None:
        return out
    for any_ in status.details:
        if any_.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            any_.Unpack(info)
            out["reason"] = info.reason
            out["metadata"] = dict(info.metadata)
        elif any_.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            br = error_details_pb2.BadRequest()
            any_.Unpack(br)
            if br.field_violations:
                out["field"] = br.field_violations[0].field
        elif any_.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            retry = error_details_pb2.RetryInfo()
            any_.Unpack(retry)
            out["retry_delay"] = retry.retry_delay.ToTimedelta().total_seconds()
    return out

