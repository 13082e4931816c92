"""Cryptographic micro-benchmarks (``make bench``). Prints figures; asserts nothing.

Figures go to docs/performance.md. Each runs in this one process, i.e. on one core.
"""

from __future__ import annotations

import platform
import statistics
import time

from crypto.ballot import Contest, ElectionContext, encrypt_ballot, verify_ballot
from crypto.cast import verify_cast_ballot
from crypto.codec import decode_ballot, decode_cast_ballot, encode_ballot, encode_cast_ballot
from crypto.credential import (
    IssuerKey,
    IssuerSet,
    finalize_credential,
    generate_issuer_key,
    generate_token,
    issue_credential,
    merge_credentials,
    request_credential,
    token_public_bytes,
)
from crypto.dlog import CITY_BOUND, DlogTable
from crypto.elgamal import ZERO, Ciphertext, add_all, encrypt
from crypto.threshold import partial_decrypt, threshold_decrypt
from tests.support.ballots import new_voter
from tests.support.dkg import run_dkg


def _median_ms(fn, runs: int) -> tuple[float, float]:
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.99) - 1]


def bench_ballot(result) -> None:
    election = ElectionContext("bench", Contest.referendum(), result.joint_public_key)
    token = bytes(range(32))
    enc_med, enc_p99 = _median_ms(lambda: encrypt_ballot(election, token, [0]), 300)
    ballot = encrypt_ballot(election, token, [0])
    raw = encode_ballot(ballot)
    ver_med, ver_p99 = _median_ms(lambda: verify_ballot(election, ballot), 300)
    dec_med, _ = _median_ms(lambda: decode_ballot(raw), 300)
    full_med, full_p99 = _median_ms(lambda: verify_ballot(election, decode_ballot(raw)), 300)
    print(f"3-option referendum ballot ({len(raw)} bytes)")
    print(f"  encrypt with proofs      median {enc_med:6.2f} ms   p99 {enc_p99:6.2f} ms")
    print(f"  verify (decoded)         median {ver_med:6.2f} ms   p99 {ver_p99:6.2f} ms")
    print(f"  decode from bytes        median {dec_med:6.2f} ms")
    print(f"  decode + verify          median {full_med:6.2f} ms   p99 {full_p99:6.2f} ms")


def bench_credential(result) -> None:
    """One registrar's steps, then what a phone does for a credential of k = 2 registrars (two
    requests, two blind signatures, two finalizations, one merge), and verify_cast_ballot of a
    ballot whose credential has one registrar's signature (k = 1) and two (k = 2)."""
    election = ElectionContext("bench", Contest.referendum(), result.joint_public_key)
    sks = [generate_issuer_key() for _ in range(2)]  # registrars 0 and 1, their own keys
    issuers = [IssuerKey("bench", 8950, sk.public_key(), r) for r, sk in enumerate(sks)]
    voter = new_voter(election, issuers[0], sks[0], [0])
    req, tpk = voter.request, voter.request.token_public_key
    req_med, _ = _median_ms(lambda: request_credential(issuers[0], tpk), 100)
    sign_med, sign_p99 = _median_ms(lambda: issue_credential(sks[0], req.blinded_msg), 100)
    fin_med, _ = _median_ms(lambda: finalize_credential(req, issue_credential(
        sks[0], req.blinded_msg)), 20)

    def two_registrars() -> None:
        token = token_public_bytes(generate_token())
        requests = [request_credential(issuer, token) for issuer in issuers]
        merge_credentials([finalize_credential(q, issue_credential(sk, q.blinded_msg))
                           for q, sk in zip(requests, sks, strict=True)])
    k2_med, k2_p99 = _median_ms(two_registrars, 50)
    one = IssuerSet("bench", 1, {0: {8950: issuers[0]}})
    raw = encode_cast_ballot(voter.cast)
    cast_med, cast_p99 = _median_ms(
        lambda: verify_cast_ballot(election, one, decode_cast_ballot(raw)), 300)
    both = IssuerSet("bench", 2, {r: {8950: k} for r, k in enumerate(issuers)})
    raw2 = encode_cast_ballot(new_voter(election, issuers, sks, [0]).cast)
    cast2_med, cast2_p99 = _median_ms(
        lambda: verify_cast_ballot(election, both, decode_cast_ballot(raw2)), 300)
    print("credential (RSABSSA-SHA384-PSS-Randomized, 2048-bit issuer keys)")
    print(f"  prepare + blind (phone)  median {req_med:6.2f} ms")
    print(f"  blind_sign (registrar)   median {sign_med:6.2f} ms   p99 {sign_p99:6.2f} ms")
    print(f"  blind_sign + finalize    median {fin_med:6.2f} ms")
    print(f"  from k = 2 registrars    median {k2_med:6.2f} ms   p99 {k2_p99:6.2f} ms   "
          f"({1000 / k2_med:,.0f} credentials/s on one core: 2 x blind, blind_sign, finalize)")
    print(f"cast ballot from bytes: decode, credential, token signature, proofs "
          f"({len(raw)} bytes with one registrar's signature, {len(raw2)} with two)")
    print(f"  verify_cast_ballot, k=1  median {cast_med:6.2f} ms   p99 {cast_p99:6.2f} ms")
    print(f"  verify_cast_ballot, k=2  median {cast2_med:6.2f} ms   p99 {cast2_p99:6.2f} ms")


def bench_aggregation(result, ballots: int = 100_000) -> None:
    """Per option: add each ballot's ciphertext into its weight class's running sum, then scale
    each class sum by its weight (area) and add the class sums (headcount)."""
    key = result.joint_public_key
    pool = [tuple(encrypt(key, m)[0] for m in (1, 0, 0)) for _ in range(512)]
    weights = [8_950, 12_000, 14_425, 9_075, 30_000, 6_500]  # 0.01 m² classes
    t = time.perf_counter()
    class_sums = {w: [ZERO, ZERO, ZERO] for w in weights}
    for i in range(ballots):
        cts = pool[i % len(pool)]
        acc = class_sums[weights[i % len(weights)]]
        for o in range(3):
            acc[o] = acc[o] + cts[o]
    headcount = [add_all(class_sums[w][o] for w in weights) for o in range(3)]
    area = [add_all(class_sums[w][o].scale(w) for w in weights) for o in range(3)]
    elapsed = time.perf_counter() - t
    assert len(headcount) == len(area) == 3
    print(f"aggregation of {ballots:,} ballots (3 options, {len(weights)} weight classes): "
          f"{elapsed:.2f} s ({ballots / elapsed:,.0f} ballots/s)")


def bench_tally(result, shares) -> None:
    key = result.joint_public_key
    # a city-sized tally: area totals summing to just under 10^11, headcounts ~ 1e6
    plain = {"approve.area": 59_999_999_999, "oppose.area": 30_000_000_000,
             "abstain.area": 9_999_999_999, "approve.count": 610_000, "oppose.count": 300_000,
             "abstain.count": 90_000}
    cts: dict[str, Ciphertext] = {k: encrypt(key, v)[0] for k, v in plain.items()}
    guardians = [1, 3, 5]  # guardians 2 and 4 absent
    t0 = time.perf_counter()
    table = DlogTable(CITY_BOUND)
    t_table = time.perf_counter() - t0
    t1 = time.perf_counter()
    dec_shares = {label: [partial_decrypt("bench", label, shares[g], ct) for g in guardians]
                  for label, ct in cts.items()}
    t2 = time.perf_counter()
    out = {}
    for label, ct in cts.items():
        point = threshold_decrypt("bench", label, ct, dec_shares[label],
                                  result.verification_keys, 3)
        out[label] = table.log(point)
    t3 = time.perf_counter()
    assert out == plain, out
    print("threshold decryption of a tally (3 of 5 guardians, 6 ciphertexts, totals to 10^11)")
    print(f"  dlog table build (once per process)  {t_table:5.2f} s")
    print(f"  partial decryptions with proofs      {t2 - t1:5.2f} s")
    print(f"  verify shares, combine, dlog         {t3 - t2:5.2f} s")
    print(f"  total including table build          {t_table + t3 - t1:5.2f} s")


def main() -> None:
    print(f"python {platform.python_version()} on {platform.machine()}, one process")
    run = run_dkg("bench", 5, 3)
    result, shares = run.result, run.shares
    t = time.perf_counter()
    run_dkg("bench", 5, 3)
    print(f"DKG 3-of-5, all rounds for all guardians: {(time.perf_counter() - t) * 1000:.0f} ms")
    bench_ballot(result)
    bench_credential(result)
    bench_aggregation(result)
    bench_tally(result, shares)


if __name__ == "__main__":
    main()
