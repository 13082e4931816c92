"""Generate the project's own test vectors from fixed seeds (docs/protocol.md §9).

    python -m tests.vectors.make_vectors > tests/vectors/ownervote-v1.json

tests/test_vectors.py regenerates them and requires byte equality with the frozen file, and
checks every vector with the verifiers. The deterministic "randomness" is
``hash_to_scalar(seed || u32(counter), "ownervote-v1-test-vector-rng")``, counter from 0, for
scalars and SHAKE-256(seed || u32(counter)) for the blind-RSA bytes (SeededBytes); Ed25519
keys come from SHA-256 seeds, the registrars' issuer keys are RFC 9474 Appendix A's and
seeded_rsa_key's (their primes published), and the identity provider's attestations have a
fixed clock and nonce: an independent implementation can reproduce every byte.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import sys
from pathlib import Path

import gmpy2
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from crypto.attestation import DemoIdentityProvider, blinded_digest
from crypto.ballot import Contest, ElectionContext, encrypt_ballot, proof_context
from crypto.cast import ballot_signing_message
from crypto.codec import (
    encode_ballot,
    encode_cast_ballot,
    encode_ciphertext,
    encode_complaint,
    encode_credential,
    encode_dealing,
    encode_disjunctive,
    encode_dleq,
    encode_guardian_key,
    encode_schnorr,
)
from crypto.credential import IssuerKey, credential_message, token_public_bytes
from crypto.dkg import (
    Dealing,
    EncryptedShare,
    GuardianShare,
    judge_complaint,
    make_complaint,
)
from crypto.dlog import DlogTable
from crypto.elgamal import ZERO, encrypt
from crypto.encoding import Event, encode_event
from crypto.errors import DiscreteLogNotFound
from crypto.group import (
    IDENTITY,
    ORDER,
    base_mul,
    decode_point,
    decode_scalar,
    encode_point,
    encode_scalar,
    hash_to_scalar,
    msm,
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
from crypto.outcome import result_of
from crypto.proofs import prove_disjunctive, prove_dleq, prove_schnorr
from crypto.records import (
    DecryptionSharesRecord,
    DefinitionRecord,
    ElectionState,
    Registrar,
    RulePreset,
    RuleRecord,
    Transition,
    encode_aggregates,
    encode_decryption_shares,
    encode_definition,
    encode_result,
    encode_roll_commitment,
    encode_transition,
    preset_rule,
    roll_commitment,
)
from crypto.tally import Aggregates, DecryptedTotals
from crypto.threshold import partial_decrypt
from crypto.transcript import Transcript
from rules.roll import Roll, Unit, compute_weights, roll_canonical_bytes, roll_hash
from rules.roll_csv import parse_roll_csv
from tests.support.ballots import new_voter, signed_ballot
from tests.support.dkg import run_dkg

RNG_DST = b"ownervote-v1-test-vector-rng"


class SeededScalars:
    """A deterministic scalar source for vectors (never for real use)."""

    def __init__(self, seed: bytes) -> None:
        self.seed = seed
        self.counter = 0

    def __call__(self) -> int:
        k = hash_to_scalar(self.seed + self.counter.to_bytes(4, "big"), RNG_DST)
        self.counter += 1
        return k


def h(b: bytes) -> str:
    return b.hex()


def transcript_vector() -> dict:
    t = Transcript("ownervote/v1/example", (("election_id", b"demo-2026"),))
    t.append_point("G", base_mul(1)).append_int("k", 2).append("note", b"\x00\x01")
    return {"label": "ownervote/v1/example",
            "items": [["election_id", h(b"demo-2026")], ["G", h(encode_point(base_mul(1)))],
                      ["k", h((2).to_bytes(8, "big"))], ["note", "0001"]],
            "transcript": h(t.to_bytes()), "challenge": h(encode_scalar(t.challenge()))}


def proof_vectors() -> dict:
    rng = SeededScalars(b"proofs")
    x = rng()
    ctx = (("election_id", b"demo-2026"),)
    schnorr = prove_schnorr(x, base_mul(x), ctx, rng)
    hpt = base_mul(rng())
    xp, yp, dleq = prove_dleq(x, hpt, ctx, rng)
    sk = rng()
    pk = base_mul(sk)
    ct, r = encrypt(pk, 1, rng())
    disj = prove_disjunctive(pk, ct, r, (0, 1), 1, ctx, rng)
    return {
        "seed": h(b"proofs"),
        "context": [["election_id", h(b"demo-2026")]],
        "schnorr": {"secret": h(encode_scalar(x)), "public": h(encode_point(base_mul(x))),
                    "proof": h(encode_schnorr(schnorr))},
        "dleq": {"secret": h(encode_scalar(x)), "H": h(encode_point(hpt)),
                 "X": h(encode_point(xp)), "Y": h(encode_point(yp)), "proof": h(encode_dleq(dleq))},
        "disjunctive": {"public_key": h(encode_point(pk)), "secret_key": h(encode_scalar(sk)),
                        "plaintext": 1, "nonce": h(encode_scalar(r)), "values": [0, 1],
                        "ciphertext": h(encode_ciphertext(ct)),
                        "proof": h(encode_disjunctive(disj))},
    }


def ballot_vector() -> dict:
    rng = SeededScalars(b"ballot")
    sk = rng()
    election = ElectionContext("demo-2026", Contest.referendum(), base_mul(sk))
    token = hashlib.sha256(b"token public key of the vector").digest()
    ballot = encrypt_ballot(election, token, [0], rng)
    raw = encode_ballot(ballot)
    return {"seed": h(b"ballot"), "election_id": election.election_id, "contest": "referendum",
            "secret_key": h(encode_scalar(sk)), "public_key": h(encode_point(election.public_key)),
            "election_hash": h(election.hash), "token_public_key": h(token), "choices": [0],
            "selection0_context": [[n, h(v)] for n, v in proof_context(election, token,
                                                                        "selection[0]")],
            "ballot": h(raw), "ballot_sha256": h(hashlib.sha256(raw).digest())}


def dkg_vector() -> dict:
    rng = SeededScalars(b"dkg")
    run = run_dkg("demo-2026", 3, 2, rng)  # draws every key, then every dealing
    kps, dealings, result, shares = run.keys.values(), run.dealings, run.result, run.shares
    ct, _ = encrypt(result.joint_public_key, 42, rng())
    dec = [partial_decrypt("demo-2026", "option[0].count", shares[g], ct, rng) for g in (1, 3)]
    return {
        "seed": h(b"dkg"), "election_id": "demo-2026", "n": 3, "t": 2,
        "guardian_keys": [{"index": k.index, "secret": h(encode_scalar(k.secret)),
                           "encryption_key": h(encode_point(k.public.encryption_key)),
                           "proof": h(encode_schnorr(k.public.proof))} for k in kps],
        "dealings": [{"dealer": d.dealer,
                      "commitments": [h(encode_point(c)) for c in d.commitments],
                      "constant_proof": h(encode_schnorr(d.constant_proof)),
                      "shares": [{"recipient": s.recipient,
                                  "ephemeral": h(encode_point(s.ephemeral)),
                                  "ciphertext": h(s.ciphertext)} for s in d.shares]}
                     for d in dealings],
        "joint_public_key": h(encode_point(result.joint_public_key)),
        "verification_keys": {str(j): h(encode_point(v))
                              for j, v in sorted(result.verification_keys.items())},
        "secret_shares": {str(j): h(encode_scalar(s.secret)) for j, s in sorted(shares.items())},
        "tally_ciphertext": h(encode_ciphertext(ct)), "tally_label": "option[0].count",
        "plaintext": 42,
        "decryption_shares": [{"guardian": d.guardian, "share": h(encode_point(d.share)),
                               "proof": h(encode_dleq(d.proof))} for d in dec],
    }


# --- §10.1: the roll's canonical bytes and hash -------------------------------------------------

VECTOR_UNITS = (  # (unit_id, building, area, owner_id, designated_voter, developer_unsold)
    ("1-101", "1号楼", 8950, "O001", "O001", False),
    ("1-102", "1号楼", 8950, "O002", "O003", False),  # co-owned: O002 registered, O003 votes
    ("2-101", "2号楼", 5000, "developer", "developer", True),
    ("2-102", "2号楼", 2580, "developer", "developer", True),
    ("2-201", "2号楼", 12025, "O004", "O004", False),
)


def vector_roll() -> Roll:
    """Four voting owners: O001 and O003 of 8950, O004 of 12025, the developer of 5000 + 2580
    (classes 7580 ×1, 8950 ×2, 12025 ×1; total 37,505)."""
    return compute_weights(Unit(*u) for u in VECTOR_UNITS)


def roll_vector() -> dict:
    roll = vector_roll()
    sample = parse_roll_csv((Path(__file__).parent / "rolls" / "sample_roll.csv").read_text())
    return {"units": [list(u) for u in VECTOR_UNITS],
            "total_area": roll.total_area, "total_owners": roll.total_owners,
            "roll_bytes": h(roll_canonical_bytes(roll)), "roll_hash": h(roll_hash(roll)),
            "record": h(encode_roll_commitment(roll_commitment(roll))),
            "sample_roll_csv": {"path": "tests/vectors/rolls/sample_roll.csv",
                                "total_area": sample.total_area,
                                "total_owners": sample.total_owners,
                                "roll_bytes": h(roll_canonical_bytes(sample)),
                                "roll_hash": h(roll_hash(sample))}}


def tally_vector() -> dict:
    """The tally records of a 2-of-3 election under the dkg vector's key: three ballots' worth
    of aggregates (approve 2, oppose 1, abstain 0; weights 8950 and 12025), guardians 1 and 3's
    decryption-shares records, and the result record evaluated under the major-matter rule."""
    rng = SeededScalars(b"tally")
    dkg = dkg_vector()  # its published secret shares decrypt
    key = decode_point(bytes.fromhex(dkg["joint_public_key"]))
    counts, areas = (2, 1, 0), (8950 + 12025, 8950, 0)
    aggs = Aggregates(tuple(encrypt(key, m, rng())[0] for m in counts),
                      tuple(encrypt(key, m, rng())[0] for m in areas), 3, 2 * 8950 + 12025)
    roll = roll_commitment(vector_roll())  # 37,505 in classes 7580 ×1, 8950 ×2, 12025 ×1
    definition = DefinitionRecord("demo-2026", "demo/roll", roll.roll_hash, "Repair the gate",
                                  Contest.referendum(), preset_rule(RulePreset.MAJOR),
                                  1_800_000_000, 1_800_086_400, 3, 2, 1_799_992_800,
                                  vector_registrars(), REGISTRAR_THRESHOLD,
                                  identity_provider_key().public_key().public_bytes_raw(),
                                  max_ballots_per_token=5)
    records = []
    for g in (1, 3):
        share = GuardianShare(g, decode_scalar(bytes.fromhex(dkg["secret_shares"][str(g)])))
        records.append(DecryptionSharesRecord(g, tuple(
            (label, partial_decrypt("demo-2026", label, share, ct, rng))
            for label, ct in aggs.labelled().items())))
    result = result_of(definition, roll, aggs, DecryptedTotals(counts, areas), (1, 3))
    return {"seed": h(b"tally"), "election_id": "demo-2026", "counts": list(counts),
            "areas": list(areas), "definition": h(encode_definition(definition)),
            "roll": h(encode_roll_commitment(roll)), "aggregates": h(encode_aggregates(aggs)),
            "decryption_shares": [h(encode_decryption_shares(r)) for r in records],
            "result": h(encode_result(result)),
            "empty_aggregates": h(encode_aggregates(Aggregates((ZERO,) * 3, (ZERO,) * 3, 0, 0)))}


# --- §7: the key ceremony's encodings and every guardian proof's transcript ---------------------

def _dkg_objects():
    """The dkg vector's run again (same seed, same draws), as objects."""
    rng = SeededScalars(b"dkg")
    run = run_dkg("demo-2026", 3, 2, rng)
    ct, _ = encrypt(run.result.joint_public_key, 42, rng())
    dec = [partial_decrypt("demo-2026", "option[0].count", run.shares[g], ct, rng) for g in (1, 3)]
    return run, ct, dec


def _ceremony_complaints(run):
    """Guardian 2's complaints about dealer 1 (its share is good: dismissed) and about a copy of
    dealer 3's dealing whose share to guardian 2 has its last byte flipped (upheld)."""
    rng = SeededScalars(b"complaints")
    params = run.params
    good = run.dealings[0]
    bad3 = run.dealings[2]
    broken = bad3.shares[1].ciphertext[:-1] + bytes([bad3.shares[1].ciphertext[-1] ^ 1])
    bad = Dealing(bad3.dealer, bad3.commitments, bad3.constant_proof,
                  (bad3.shares[0], EncryptedShare(2, bad3.shares[1].ephemeral, broken),
                   bad3.shares[2]))
    return [(good, make_complaint(params, run.keys[2], good, rng)),
            (bad, make_complaint(params, run.keys[2], bad, rng))]


def ceremony_vector() -> dict:
    """The byte encodings of the dkg vector's guardian keys and dealings (§9), and two
    complaints with their verdicts (§7.3)."""
    run, _, _ = _dkg_objects()
    complaints = []
    for dealing, c in _ceremony_complaints(run):
        verdict = judge_complaint(run.params, c, dealing, run.publics)
        complaints.append({"dealing": h(encode_dealing(dealing)),
                           "complaint": h(encode_complaint(c)), "verdict": verdict.value})
    return {"seed": h(b"complaints"), "election_id": "demo-2026", "n": 3, "t": 2,
            "guardian_keys": [h(encode_guardian_key(k)) for k in run.publics],
            "dealings": [h(encode_dealing(d)) for d in run.dealings],
            "complaints": complaints}


def _u32b(i: int) -> bytes:
    return i.to_bytes(4, "big")


def _spec_transcript(label: str, items: list[tuple[str, bytes]]) -> Transcript:
    t = Transcript(label)
    for name, value in items:
        t.append(name, value)
    return t


def proof_transcripts_vector() -> dict:
    """Each guardian proof's transcript item by item (docs/protocol.md §7, the table at its
    start): the guardian-key and constant-term Schnorr proofs of guardian 1, guardian 2's upheld
    complaint, and guardian 1's decryption share of the dkg vector. Each challenge is checked
    here against the proof's own equation, so the items are the ones the proofs were made with."""
    run, ct, dec = _dkg_objects()
    p = run.params
    pt = encode_point
    ceremony = [("election_id", p.election_id.encode()), ("n", _u32b(p.n)), ("t", _u32b(p.t))]

    def ctx(purpose: str, *extra):
        return [ceremony[0], ("purpose", purpose.encode()), *ceremony[1:], *extra]

    g1 = run.keys[1].public
    d1 = run.dealings[0]
    dealing, complaint = _ceremony_complaints(run)[1]
    share = dec[0]
    out = {}
    cases = [
        ("guardian_key", "ownervote/v1/proof/schnorr",
         ctx("guardian-key", ("guardian", _u32b(1))) + [
             ("G", pt(base_mul(1))), ("X", pt(g1.encryption_key)), ("R", pt(g1.proof.commitment))],
         encode_schnorr(g1.proof), [(g1.proof.response, base_mul(1), g1.proof.commitment,
                                     g1.encryption_key)]),
        ("dkg_constant", "ownervote/v1/proof/schnorr",
         ctx("dkg-constant", ("dealer", _u32b(1))) + [
             ("G", pt(base_mul(1))), ("X", pt(d1.commitments[0])),
             ("R", pt(d1.constant_proof.commitment))],
         encode_schnorr(d1.constant_proof),
         [(d1.constant_proof.response, base_mul(1), d1.constant_proof.commitment,
           d1.commitments[0])]),
        ("dkg_complaint", "ownervote/v1/proof/dleq",
         ctx("dkg-complaint", ("dealer", _u32b(complaint.dealer)),
             ("complainer", _u32b(complaint.complainer))) + [
             ("G", pt(base_mul(1))), ("X", pt(run.keys[2].public.encryption_key)),
             ("H", pt(dealing.shares[1].ephemeral)), ("Y", pt(complaint.shared_point)),
             ("R1", pt(complaint.proof.commitment_g)), ("R2", pt(complaint.proof.commitment_h))],
         encode_dleq(complaint.proof),
         [(complaint.proof.response, base_mul(1), complaint.proof.commitment_g,
           run.keys[2].public.encryption_key),
          (complaint.proof.response, dealing.shares[1].ephemeral, complaint.proof.commitment_h,
           complaint.shared_point)]),
        ("decryption_share", "ownervote/v1/proof/dleq",
         [("election_id", p.election_id.encode()), ("purpose", b"decryption-share"),
          ("label", b"option[0].count"), ("alpha", pt(ct.alpha)), ("beta", pt(ct.beta)),
          ("guardian", _u32b(1)),
          ("G", pt(base_mul(1))), ("X", pt(run.result.verification_keys[1])),
          ("H", pt(ct.alpha)), ("Y", pt(share.share)),
          ("R1", pt(share.proof.commitment_g)), ("R2", pt(share.proof.commitment_h))],
         encode_dleq(share.proof),
         [(share.proof.response, base_mul(1), share.proof.commitment_g,
           run.result.verification_keys[1]),
          (share.proof.response, ct.alpha, share.proof.commitment_h, share.share)]),
    ]
    for name, label, items, proof, equations in cases:
        t = _spec_transcript(label, items)
        c = t.challenge()
        for z, base, commit, public in equations:  # z·base == commit + c·public
            if msm([z, -c], [base, public]) != commit:
                raise AssertionError(f"{name}: the listed items are not the proof's transcript")
        out[name] = {"label": label, "items": [[n, h(v)] for n, v in items],
                     "transcript": h(t.to_bytes()), "challenge": h(encode_scalar(c)),
                     "proof": h(proof)}
    return out


# --- §10.2: the result under the rule -------------------------------------------------------------

def rule_roll() -> Roll:
    """Twelve owners: S1..S6 of 100.00 m² and L1..L6 of 200.00 m² (A = 180,000, N = 12)."""
    return compute_weights([Unit.sole(f"A-0{i}", "A", 10000, f"S{i}") for i in range(1, 7)]
                           + [Unit.sole(f"B-0{i}", "B", 20000, f"L{i}") for i in range(1, 7)])


def _rule_bytes(r: RuleRecord) -> bytes:
    return (bytes([r.preset]) + b"".join(n.to_bytes(8, "big") + d.to_bytes(8, "big")
                                         for n, d in r.fractions) + bytes([r.strict]))


def _explicit(qa, qh, aa, ah, strict: bool) -> RuleRecord:
    return RuleRecord(RulePreset.EXPLICIT, (qa, qh, aa, ah), strict)


# (name, rule, participants (small, large), per option (small, large) choosing it)
_HALF, _TWO_THIRDS, _THREE_QUARTERS = (1, 2), (2, 3), (3, 4)
RULE_CASES = (
    ("passed", preset_rule(RulePreset.ORDINARY), (6, 4), ((3, 3), (3, 1), (0, 0))),
    ("no_quorum_area", preset_rule(RulePreset.ORDINARY), (6, 2), ((6, 2), (0, 0), (0, 0))),
    ("no_quorum_headcount", preset_rule(RulePreset.ORDINARY), (1, 6), ((1, 6), (0, 0), (0, 0))),
    ("half_ordinary_rejected", preset_rule(RulePreset.ORDINARY), (4, 4),
     ((2, 2), (2, 2), (0, 0))),
    ("half_not_strict_passed", _explicit(_TWO_THIRDS, _TWO_THIRDS, _HALF, _HALF, False), (4, 4),
     ((2, 2), (2, 2), (0, 0))),
    ("three_quarters_major_passed", preset_rule(RulePreset.MAJOR), (4, 4),
     ((3, 3), (1, 0), (0, 1))),
    ("three_quarters_strict_rejected",
     _explicit(_TWO_THIRDS, _TWO_THIRDS, _THREE_QUARTERS, _THREE_QUARTERS, True), (4, 4),
     ((3, 3), (1, 0), (0, 1))),
    ("nobody_voted_zero_quorum", _explicit((0, 1), (0, 1), _HALF, _HALF, True), (0, 0),
     ((0, 0), (0, 0), (0, 0))),
    ("one_voter_zero_quorum", _explicit((0, 1), (0, 1), _HALF, _HALF, True), (1, 0),
     ((1, 0), (0, 0), (0, 0))),
)


def rule_outcomes_vector() -> dict:
    """Result records (§10.2) of a referendum on rule_roll() for each of RULE_CASES, from the
    plain totals (the tally vector covers decrypting them)."""
    roll = roll_commitment(rule_roll())
    cases = []
    for name, rule, (ps, pl), options in RULE_CASES:
        counts = tuple(s + lg for s, lg in options)
        areas = tuple(10000 * s + 20000 * lg for s, lg in options)
        definition = DefinitionRecord("rules-2026", "rules/roll", roll.roll_hash,
                                      "A motion", Contest.referendum(), rule,
                                      1_800_000_000, 1_800_086_400, 3, 2, 1_799_992_800,
                                      vector_registrars(), REGISTRAR_THRESHOLD,
                                      identity_provider_key().public_key().public_bytes_raw())
        owners, area = ps + pl, 10000 * ps + 20000 * pl
        guardians = (1, 3) if owners else ()
        aggs = Aggregates((ZERO,) * 3, (ZERO,) * 3, owners, area)
        result = result_of(definition, roll, aggs, DecryptedTotals(counts, areas), guardians)
        cases.append({"name": name, "preset": int(rule.preset),
                      "fractions": [list(f) for f in rule.fractions], "strict": rule.strict,
                      "rule": h(_rule_bytes(rule)), "participating_owners": owners,
                      "participating_area": area, "counts": list(counts), "areas": list(areas),
                      "guardians": list(guardians), "quorum_met": result.quorum_met,
                      "outcomes": [int(o) for o in result.outcomes],
                      "result": h(encode_result(result))})
    refused = [  # rule bytes (preset, 4 × (numerator, denominator), strict) a decoder refuses
        ("ordinary preset, not strict", (1, ((2, 3), (2, 3), (1, 2), (1, 2)), 0)),
        ("major preset with 6/8 for 3/4", (2, ((2, 3), (2, 3), (6, 8), (3, 4)), 0)),
        ("ordinary preset with major fractions", (1, ((2, 3), (2, 3), (3, 4), (3, 4)), 1)),
        ("a zero denominator", (3, ((2, 3), (2, 0), (1, 2), (1, 2)), 1)),
        ("a fraction above one", (3, ((4, 3), (2, 3), (1, 2), (1, 2)), 1)),
        ("approval at least 0", (3, ((2, 3), (2, 3), (0, 1), (1, 2)), 0)),
        ("approval more than 1", (3, ((2, 3), (2, 3), (1, 2), (1, 1)), 1)),
        ("unknown preset", (4, ((2, 3), (2, 3), (1, 2), (1, 2)), 1)),
        ("strict neither 0 nor 1", (3, ((2, 3), (2, 3), (1, 2), (1, 2)), 2)),
    ]
    return {"roll": h(encode_roll_commitment(roll)), "total_area": roll.total_area,
            "total_owners": roll.total_owners, "options": list(Contest.referendum().options),
            "cases": cases,
            "refused_rules": [{"why": why, "rule": h(bytes([p]) + b"".join(
                n.to_bytes(8, "big") + d.to_bytes(8, "big") for n, d in fr) + bytes([st]))}
                for why, (p, fr, st) in refused]}


# --- §6: a committee contest (several options, 0..2 choices) --------------------------------------

def committee_vector() -> dict:
    """A committee ballot: candidates ann, bob, cai, dai; 0 to 2 choices; the voter picks ann and
    cai (so the limit proof is over (0, 1, 2) on an encryption of 2)."""
    rng = SeededScalars(b"committee")
    sk = rng()
    contest = Contest.committee(["ann", "bob", "cai", "dai"], 0, 2)
    election = ElectionContext("committee-2026", contest, base_mul(sk))
    token = hashlib.sha256(b"committee token public key").digest()
    ballot = encrypt_ballot(election, token, [0, 2], rng)
    raw = encode_ballot(ballot)
    return {"seed": h(b"committee"), "election_id": election.election_id,
            "options": list(contest.options), "min": 0, "max": 2,
            "contest_bytes": h(contest.canonical_bytes()),
            "secret_key": h(encode_scalar(sk)), "public_key": h(encode_point(election.public_key)),
            "election_hash": h(election.hash), "token_public_key": h(token), "choices": [0, 2],
            "limit_context": [[n, h(v)] for n, v in proof_context(election, token,
                                                                   "contest-limit")],
            "ballot": h(raw), "ballot_sha256": h(hashlib.sha256(raw).digest())}


# --- §5.3: a derived identity, beta − v·G = O, is not refused ------------------------------

def derived_identity_vector() -> dict:
    """A 0/1 proof over an encryption of 0 whose beta is exactly 1·G (nonce r = 1/s under the
    key s·G), so that the branch v = 1 has the derived point beta − 1·G = O. It verifies: §5.3
    refuses the identity in the statement (K, alpha, beta), never in a derived point."""
    rng = SeededScalars(b"derived-identity")
    sk = rng()
    pk = base_mul(sk)
    r = pow(sk, -1, ORDER)
    ct, _ = encrypt(pk, 0, r)
    if encode_point(ct.beta) != encode_point(base_mul(1)):
        raise AssertionError("beta is not G")
    ctx = (("election_id", b"demo-2026"),)
    proof = prove_disjunctive(pk, ct, r, (0, 1), 0, ctx, rng)
    return {"seed": h(b"derived-identity"), "context": [["election_id", h(b"demo-2026")]],
            "secret_key": h(encode_scalar(sk)), "public_key": h(encode_point(pk)),
            "nonce": h(encode_scalar(r)), "plaintext": 0, "values": [0, 1],
            "ciphertext": h(encode_ciphertext(ct)), "proof": h(encode_disjunctive(proof))}


# --- §4.3: the bounded discrete log --------------------------------------------------------------

def dlog_vector() -> dict:
    """Points v·G and what the bounded discrete log answers for bound 1000: found for 0, 1, 999
    and 1000, not found for 1001 and 5000 (the answer does not depend on the table's size)."""
    bound = 1000
    table = DlogTable(bound)
    cases = []
    for v in (0, 1, 2, 31, 999, 1000, 1001, 5000):
        point = IDENTITY if v == 0 else base_mul(v)
        try:
            found = table.log(point, bound)
        except DiscreteLogNotFound:
            found = None
        cases.append({"v": v, "point": "" if v == 0 else h(encode_point(point)),
                      "found": found})
    return {"bound": bound, "baby_steps": table.m, "stride": table.stride, "cases": cases}


# --- §12: the ledger's event envelopes -------------------------------------------------------

def events_vector() -> dict:
    """Every kind of the election family in its envelope (§12), with the entry's RFC 6962 leaf
    hash: the bodies are the other vectors' records (ceremony, credential, tally, roll)."""
    vectors = {"ceremony": ceremony_vector(), "credential": credential_vector(),
               "tally": tally_vector(), "roll": roll_vector(), "issuer": issuer_keys_vector(),
               "issuances": issuances_vector()}
    t = vectors["tally"]
    bodies = [
        ("roll", "demo/roll", vectors["roll"]["record"]),
        ("election", "demo-2026", t["definition"]),
        ("state", "demo-2026", h(encode_transition(Transition(ElectionState.DRAFT,
                                                              ElectionState.KEY_CEREMONY,
                                                              1_799_990_000)))),
        ("guardian-key", "demo-2026", vectors["ceremony"]["guardian_keys"][0]),
        ("dealing", "demo-2026", vectors["ceremony"]["dealings"][0]),
        ("complaint", "demo-2026", vectors["ceremony"]["complaints"][0]["complaint"]),
        ("issuer-keys", "demo-2026", vectors["issuer"]["records"][0]["record"]),
        ("issuances", "demo-2026", vectors["issuances"]["batches"][0]["record"]),
        ("ballot", "demo-2026", vectors["credential"]["cast_ballot"]),
        ("aggregates", "demo-2026", t["aggregates"]),
        ("decryption-shares", "demo-2026", t["decryption_shares"][0]),
        ("result", "demo-2026", t["result"]),
    ]
    out = []
    for kind, subject, body in bodies:
        entry = encode_event(Event(kind, subject, bytes.fromhex(body)))
        out.append({"kind": kind, "subject": subject, "body": body, "entry": h(entry),
                    "leaf_hash": h(hashlib.sha256(b"\x00" + entry).digest())})
    return {"magic": "ownervote/v1/event", "family": "election", "events": out}


class SeededBytes:
    """Deterministic bytes for the blind-RSA steps: SHAKE-256(seed || u32(i)) per request i."""

    def __init__(self, seed: bytes) -> None:
        self.seed = seed
        self.counter = 0

    def __call__(self, n: int) -> bytes:
        out = hashlib.shake_256(self.seed + self.counter.to_bytes(4, "big")).digest(n)
        self.counter += 1
        return out


@functools.cache  # loading a private key checks it, which takes a moment
def rfc9474_key() -> rsa.RSAPrivateKey:
    """The RSA key of RFC 9474 Appendix A (so that the issuer key is published data)."""
    v = json.loads((Path(__file__).parent / "rfc9474.json").read_text())[0]
    p, q, e, d, n = (int(v[k], 16) for k in ("p", "q", "e", "d", "n"))
    pub = rsa.RSAPublicNumbers(e, n)
    return rsa.RSAPrivateNumbers(p, q, d, rsa.rsa_crt_dmp1(d, p), rsa.rsa_crt_dmq1(d, q),
                                 rsa.rsa_crt_iqmp(p, q), pub).private_key()


# --- §8: the election's registrars, their keys, and the identity provider ------------------------

REGISTRAR_NAMES = ("committee", "housing-bureau", "street-office")  # sorted: indices 0, 1, 2
REGISTRAR_THRESHOLD = 2
VECTOR_WEIGHT = 8950  # the class of the credential and issuance vectors (O001 and O003)


def registrar_seed(name: str) -> bytes:
    """Registrar ``name``'s Ed25519 seed: SHA-256("ownervote vector registrar " || name)."""
    return hashlib.sha256(f"ownervote vector registrar {name}".encode()).digest()


def registrar_key(name: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(registrar_seed(name))


def vector_registrars() -> tuple[Registrar, ...]:
    return tuple(Registrar(n, registrar_key(n).public_key().public_bytes_raw())
                 for n in REGISTRAR_NAMES)


def identity_provider_seed() -> bytes:
    """The trust vector's identity provider (§13.1), which the registrars of every vector trust."""
    return hashlib.sha256(b"ownervote trust vector identity provider").digest()


def identity_provider_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(identity_provider_seed())


def seeded_prime(label: bytes, bits: int) -> int:
    """The smallest prime p >= x with gcd(65537, p - 1) = 1, where x is SHAKE-256("ownervote
    vector rsa prime " || label) read as a ``bits``-bit big-endian integer with its two top bits
    and its low bit set (a vector's key only: the primes are published with it)."""
    x = int.from_bytes(hashlib.shake_256(b"ownervote vector rsa prime " + label).digest(bits // 8),
                       "big") | (3 << (bits - 2)) | 1
    p = int(gmpy2.next_prime(x - 1))
    while (p - 1) % 65537 == 0:
        p = int(gmpy2.next_prime(p))
    if p.bit_length() != bits:
        raise AssertionError("the prime outgrew its size")
    return p


@functools.cache  # the prime searches take a moment: once per key and run
def seeded_rsa_key(label: str, bits: int = 2048) -> rsa.RSAPrivateKey:
    """A 2048-bit issuer key (e = 65537, d = e^-1 mod lcm(p - 1, q - 1)) from the primes
    ``seeded_prime(label || " p")`` and ``seeded_prime(label || " q")``."""
    p, q = (seeded_prime(f"{label} {which}".encode(), bits // 2) for which in ("p", "q"))
    e = 65537
    d = pow(e, -1, math.lcm(p - 1, q - 1))
    return rsa.RSAPrivateNumbers(p, q, d, rsa.rsa_crt_dmp1(d, p), rsa.rsa_crt_dmq1(d, q),
                                 rsa.rsa_crt_iqmp(p, q), rsa.RSAPublicNumbers(e, p * q)
                                 ).private_key()


def issuer_private_key(registrar: int) -> rsa.RSAPrivateKey:
    """Each registrar's own issuer key of class 8950: the committee's is RFC 9474 Appendix A's
    (4096 bits), the others' seeded_rsa_key("<name> 8950") (2048 bits)."""
    if registrar == 0:
        return rfc9474_key()
    return seeded_rsa_key(f"{REGISTRAR_NAMES[registrar]} {VECTOR_WEIGHT}")


def vector_issuer(registrar: int) -> IssuerKey:
    return IssuerKey("demo-2026", VECTOR_WEIGHT, issuer_private_key(registrar).public_key(),
                     registrar)


def vector_attester(owner_id: str) -> DemoIdentityProvider:
    """The identity provider as it attests ``owner_id``'s request: clock 1,800,000,100 (the
    election is open), lifetime 600 s, nonce SHA-256("ownervote vector nonce " || owner_id)[:16]."""
    nonce = hashlib.sha256(f"ownervote vector nonce {owner_id}".encode()).digest()[:16]
    return DemoIdentityProvider(identity_provider_key(), lifetime=600,
                                clock=lambda: 1_800_000_100, nonce_source=lambda: nonce)


def _voter(owner_id: str, registrars: tuple[int, ...], seed: bytes, choices):
    """``owner_id``'s phone obtaining a credential from ``registrars`` (token seed SHA-256(seed
    || " token"), blind-RSA bytes SeededBytes(seed), ballot nonces SeededScalars(seed) after the
    election key): the voter, the election, the attestation bound to every blinded message and
    its signature."""
    rng = SeededScalars(seed)
    election = ElectionContext("demo-2026", Contest.referendum(), base_mul(rng()))
    token = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(seed + b" token").digest())
    v = new_voter(election, [vector_issuer(r) for r in registrars],
                  [issuer_private_key(r) for r in registrars], choices, token=token,
                  blind_rng=SeededBytes(seed), rng=rng)
    att, att_sig = vector_attester(owner_id).attest(owner_id, "demo-2026",
                                                    [q.blinded_msg for q in v.requests])
    return v, election, rng, att, att_sig


def credential_vector() -> dict:
    """Owner O001's phone (§8.2): one token, the credential message blinded for registrars 0
    and 1 (k = 2 of 3) in that order, each registrar's blind signature, the credential carrying
    both, a cast ballot (v3) and the same token's revote."""
    v, election, rng, _, _ = _voter("O001", (0, 1), b"credential", [1])
    token = v.token
    tpk = token_public_bytes(token)
    revote = signed_ballot(election, token, v.credential, [0], rng=rng, counter=2)
    signatures = []
    for r, q, blind, sig in zip((0, 1), v.requests, v.blind_signatures, v.credential.signatures,
                                strict=True):
        issuer = vector_issuer(r)
        signatures.append({"registrar": r, "name": REGISTRAR_NAMES[r],
                           "issuer_spki": h(issuer.spki), "key_id": h(issuer.key_id),
                           "modulus_bits": issuer.public_key.key_size,
                           "prepared_message": h(q.prepared_message),
                           "blinded_msg": h(q.blinded_msg), "blind_sig": h(blind),
                           "msg_prefix": h(sig.msg_prefix), "signature": h(sig.signature)})
    return {"seed": h(b"credential"), "owner_id": "O001", "weight": VECTOR_WEIGHT,
            "issuer_keys": "registrar 0: RFC 9474 Appendix A; 1, 2: seeded_rsa_key",
            "election_id": "demo-2026", "public_key": h(encode_point(election.public_key)),
            "registrar_threshold": REGISTRAR_THRESHOLD,
            "token_seed": h(hashlib.sha256(b"credential token").digest()),
            "token_public_key": h(tpk),
            "credential_message": h(credential_message("demo-2026", VECTOR_WEIGHT, tpk)),
            "signatures": signatures,
            "credential": h(encode_credential(v.credential)),
            "signing_message": h(ballot_signing_message(v.cast.ballot, v.cast.counter)),
            "cast_ballot": h(encode_cast_ballot(v.cast)),
            # the same token's revote (counter 2; its ballot's nonces drawn after the first's)
            "revote_signing_message": h(ballot_signing_message(revote.ballot, revote.counter)),
            "revote": h(encode_cast_ballot(revote))}


# --- §8.5: the signed issuer-keys records and issuance batches -----------------------------------

def issuer_keys_vector() -> dict:
    """Each registrar's signed issuer-keys record (v2) for the credential vector's election (one
    class, 8950): the committee's key is RFC 9474 Appendix A's (a 4096-bit modulus, e = 65537),
    the others' 2048-bit seeded keys, whose primes are given; §8.2 asks for >= 2048 bits and
    e = 65537."""
    records = []
    for r, name in enumerate(REGISTRAR_NAMES):
        issuer = vector_issuer(r)
        numbers = issuer_private_key(r).private_numbers()
        record = sign_issuer_keys(registrar_key(name), "demo-2026",
                                  IssuerKeysRecord(name, ((VECTOR_WEIGHT, issuer.spki),)))
        records.append({"registrar": r, "name": name, "seed": h(registrar_seed(name)),
                        "public_key": h(registrar_key(name).public_key().public_bytes_raw()),
                        "weight": VECTOR_WEIGHT, "spki": h(issuer.spki),
                        "key_id": h(issuer.key_id),
                        "modulus_bits": numbers.public_numbers.n.bit_length(),
                        "e": numbers.public_numbers.e,
                        "p": "RFC 9474 Appendix A" if r == 0 else format(numbers.p, "x"),
                        "q": "RFC 9474 Appendix A" if r == 0 else format(numbers.q, "x"),
                        "body": h(record.body()), "signature": h(record.signature),
                        "record": h(encode_issuer_keys(record))})
    return {"election_id": "demo-2026", "label": "ownervote/v1/issuer-keys-v2",
            "records": records}


def issuances_vector() -> dict:
    """The issuance records of two owners of class 8950: O001 (the credential vector's phone,
    registrars 0 and 1) and O003 (registrars 0 and 2, seed "issuance O003"); each attestation
    authorises the owner's blinded messages to both of its registrars. One batch per registrar:
    the committee's (seq 0) holds both owners in owner-id order, the housing bureau's (seq 0)
    O001, the street office's final batch (seq 0) O003."""
    per_registrar: dict[int, list[Issuance]] = {0: [], 1: [], 2: []}
    owners = []
    for owner, registrars, seed in (("O003", (0, 2), b"issuance O003"),
                                    ("O001", (0, 1), b"credential")):
        v, _, _, att, att_sig = _voter(owner, registrars, seed, [0])
        for r, q, blind in zip(registrars, v.requests, v.blind_signatures, strict=True):
            per_registrar[r].append(Issuance(owner, VECTOR_WEIGHT, att.canonical_bytes(),
                                             att_sig, blinded_digest(q.blinded_msg), blind))
        owners.append({"owner_id": owner, "registrars": list(registrars),
                       "nonce": h(att.nonce), "expires_at": att.expires_at,
                       "authorises": [h(d) for d in att.authorises],
                       "attestation": h(att.canonical_bytes()),
                       "attestation_signature": h(att_sig),
                       "credential": h(encode_credential(v.credential))})
    batches = []
    for r, name in enumerate(REGISTRAR_NAMES):
        final = r == 2
        record = sign_issuances(registrar_key(name), "demo-2026",
                                batch(name, 0, final, per_registrar[r]))
        batches.append({"registrar": r, "name": name, "seq": 0, "final": final,
                        "owners": [i.owner_id for i in record.issuances],
                        "issuances": [h(i.encode()) for i in record.issuances],
                        "body": h(record.body()), "signature": h(record.signature),
                        "record": h(encode_issuances(record))})
    return {"election_id": "demo-2026", "label": "ownervote/v1/issuances",
            "identity_provider": h(identity_provider_key().public_key().public_bytes_raw()),
            "attested_at": 1_800_000_100, "owners": owners, "batches": batches}


def definition_vector() -> dict:
    """The tally vector's definition (v3) with its fields: what §12 encodes for an election."""
    d = tally_vector()["definition"]
    return {"definition": d, "version": 3,
            "registrars": [{"name": r.name, "key": h(r.key)} for r in vector_registrars()],
            "registrar_threshold": REGISTRAR_THRESHOLD,
            "identity_provider": h(identity_provider_key().public_key().public_bytes_raw()),
            "guardians": 3, "threshold": 2, "allow_weak_threshold": False,
            "max_ballots_per_token": 5, "ceremony_deadline": 1_799_992_800,
            "open_time": 1_800_000_000, "close_time": 1_800_086_400}


def trust_vector() -> dict:
    """A deployment's trust bundle from fixed keys (docs/protocol.md §13.1): the log's and three
    witnesses' Ed25519 seeds SHA-256("ownervote trust vector log" / "... witness N"), the
    identity provider's key from the seed SHA-256("ownervote trust vector identity provider");
    then the same bundle pinning the dkg vector's three guardians, the same pinning the three
    registrars of the definition vector too, and a development bundle."""
    from crypto.dkg import guardian_fingerprint
    from crypto.log.checkpoint import CosignatureSigner
    from crypto.log.note import Ed25519Signer
    from crypto.log.trust import make_bundle

    def seed(label: str) -> bytes:
        return hashlib.sha256(f"ownervote trust vector {label}".encode()).digest()

    origin = "ownervote.example/log"
    log = Ed25519Signer(origin, seed("log"))
    witnesses = [CosignatureSigner(f"w{i}.ownervote.example", seed(f"witness {i}"))
                 for i in range(3)]
    idp = Ed25519PrivateKey.from_private_bytes(seed("identity provider")).public_key()
    idp_raw = idp.public_bytes_raw()
    bundle = make_bundle(origin, log.verifier().vkey(), [w.verifier().vkey() for w in witnesses],
                         2, idp_raw)
    run = run_dkg("demo-2026", 3, 2, SeededScalars(b"dkg"))  # the dkg vector's guardians
    pinned = {k.index: guardian_fingerprint("demo-2026", k.public)
              for k in run.keys.values()}
    guarded = bundle.with_guardians("demo-2026", pinned)
    full = guarded.with_registrars({r.name: r.key for r in vector_registrars()})
    dev = make_bundle(origin, log.verifier().vkey(), [witnesses[0].verifier().vkey()], 0,
                      idp_raw, development=True)

    def doc(b) -> dict:
        return {"text": b.encode().decode(), "encoding": h(b.encode()),
                "sha256": h(b.digest()), "fingerprint": b.fingerprint()}

    return {"origin": origin, "quorum": 2,
            "log": {"name": origin, "seed": h(seed("log")), "vkey": log.verifier().vkey()},
            "witnesses": [{"name": w.name, "seed": h(seed(f"witness {i}")),
                           "vkey": w.verifier().vkey()} for i, w in enumerate(witnesses)],
            "identity_provider": {"seed": h(seed("identity provider")), "public_key": h(idp_raw)},
            "bundle": doc(bundle),
            "with_guardians": {"election_id": "demo-2026",
                               "fingerprints": {str(i): h(fp) for i, fp in sorted(pinned.items())},
                               **doc(guarded)},
            "with_registrars": {"registrars": [{"name": r.name, "seed": h(registrar_seed(r.name)),
                                                "key": h(r.key)} for r in vector_registrars()],
                                **doc(full)},
            "development": {"witnesses": 1, "quorum": 0, **doc(dev)}}


def all_vectors() -> dict:
    return {
        "about": "ownervote protocol v1 test vectors; generated by tests/vectors/make_vectors.py",
        "rng": {"dst": RNG_DST.decode(),
                "rule": "k_i = hash_to_scalar(seed || u32be(i), dst), i = 0, 1, 2, ..."},
        "hash_to_scalar": [{"msg": h(m), "dst": d.decode(),
                            "scalar": h(encode_scalar(hash_to_scalar(m, d)))}
                           for m, d in ((b"", b"ownervote-v1-fiat-shamir-challenge"),
                                        (b"abc", b"ownervote-v1-fiat-shamir-challenge"))],
        "transcript": transcript_vector(),
        "proofs": proof_vectors(),
        "ballot": ballot_vector(),
        "dkg": dkg_vector(),
        "credential": credential_vector(),
        "tally": tally_vector(),
        "ceremony": ceremony_vector(),
        "proof_transcripts": proof_transcripts_vector(),
        "issuer_keys": issuer_keys_vector(),
        "issuances": issuances_vector(),
        "definition": definition_vector(),
        "roll": roll_vector(),
        "rule_outcomes": rule_outcomes_vector(),
        "committee": committee_vector(),
        "derived_identity": derived_identity_vector(),
        "dlog": dlog_vector(),
        "events": events_vector(),
        "trust": trust_vector(),
    }


def render() -> str:
    return json.dumps(all_vectors(), indent=1, sort_keys=True) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
