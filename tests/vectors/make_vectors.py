"""Generate the project's own test vectors from fixed seeds (docs/protocol.md §9).

    python -m tests.vectors.make_vectors > tests/vectors/ownervote-v1.json

tests/test_vectors.py regenerates them and requires byte equality with the frozen file, and
checks every vector with the verifiers. The deterministic "randomness" is
``hash_to_scalar(seed || u32(counter), "ownervote-v1-test-vector-rng")``, counter from 0: an
independent implementation can reproduce every byte.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from crypto.ballot import Contest, ElectionContext, encrypt_ballot, proof_context
from crypto.codec import (
    encode_ballot,
    encode_cast_ballot,
    encode_ciphertext,
    encode_credential,
    encode_disjunctive,
    encode_dleq,
    encode_schnorr,
)
from crypto.credential import IssuerKey, credential_message, token_public_bytes
from crypto.dkg import GuardianShare
from crypto.elgamal import ZERO, encrypt
from crypto.group import (
    base_mul,
    decode_point,
    decode_scalar,
    encode_point,
    encode_scalar,
    hash_to_scalar,
)
from crypto.outcome import result_of
from crypto.proofs import prove_disjunctive, prove_dleq, prove_schnorr
from crypto.records import (
    DecryptionSharesRecord,
    DefinitionRecord,
    RollCommitment,
    RulePreset,
    encode_aggregates,
    encode_decryption_shares,
    encode_definition,
    encode_result,
    encode_roll_commitment,
    preset_rule,
)
from crypto.tally import Aggregates, DecryptedTotals
from crypto.threshold import partial_decrypt
from crypto.transcript import Transcript
from tests.support.ballots import new_voter
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
    roll = RollCommitment(bytes(range(32)), 2 * 8950 + 12025 + 7580, 4,
                          ((7580, 1), (8950, 2), (12025, 1)))
    definition = DefinitionRecord("demo-2026", "demo/roll", roll.roll_hash, "Repair the gate",
                                  Contest.referendum(), preset_rule(RulePreset.MAJOR),
                                  1_800_000_000, 1_800_086_400, 3, 2)
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


class SeededBytes:
    """Deterministic bytes for the blind-RSA steps: SHAKE-256(seed || u32(i)) per request i."""

    def __init__(self, seed: bytes) -> None:
        self.seed = seed
        self.counter = 0

    def __call__(self, n: int) -> bytes:
        out = hashlib.shake_256(self.seed + self.counter.to_bytes(4, "big")).digest(n)
        self.counter += 1
        return out


def rfc9474_key() -> rsa.RSAPrivateKey:
    """The RSA key of RFC 9474 Appendix A (so that the issuer key is published data)."""
    v = json.loads((Path(__file__).parent / "rfc9474.json").read_text())[0]
    p, q, e, d, n = (int(v[k], 16) for k in ("p", "q", "e", "d", "n"))
    pub = rsa.RSAPublicNumbers(e, n)
    return rsa.RSAPrivateNumbers(p, q, d, rsa.rsa_crt_dmp1(d, p), rsa.rsa_crt_dmq1(d, q),
                                 rsa.rsa_crt_iqmp(p, q), pub).private_key()


def credential_vector() -> dict:
    rng = SeededScalars(b"credential")
    rbytes = SeededBytes(b"credential")
    sk = rng()
    election = ElectionContext("demo-2026", Contest.referendum(), base_mul(sk))
    issuer_sk = rfc9474_key()
    issuer = IssuerKey("demo-2026", 8950, issuer_sk.public_key())
    token = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"token seed").digest())
    tpk = token_public_bytes(token)
    v = new_voter(election, issuer, issuer_sk, [1], token=token, blind_rng=rbytes, rng=rng)
    return {"seed": h(b"credential"), "issuer_key": "RFC 9474 Appendix A key",
            "issuer_spki": h(issuer.spki), "key_id": h(issuer.key_id), "weight": 8950,
            "election_id": "demo-2026", "public_key": h(encode_point(election.public_key)),
            "token_seed": h(hashlib.sha256(b"token seed").digest()), "token_public_key": h(tpk),
            "credential_message": h(credential_message("demo-2026", 8950, tpk)),
            "prepared_message": h(v.request.prepared_message),
            "blinded_msg": h(v.request.blinded_msg), "blind_sig": h(v.blind_signature),
            "credential": h(encode_credential(v.credential)),
            "cast_ballot": h(encode_cast_ballot(v.cast))}


def trust_vector() -> dict:
    """A deployment's trust bundle from fixed keys (docs/protocol.md §13.1): the log's and three
    witnesses' Ed25519 seeds SHA-256("ownervote trust vector log" / "... witness N"), the
    identity provider's key from the seed SHA-256("ownervote trust vector identity provider");
    then the same bundle pinning the dkg vector's three guardians, and a development bundle."""
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
        "trust": trust_vector(),
    }


def render() -> str:
    return json.dumps(all_vectors(), indent=1, sort_keys=True) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
