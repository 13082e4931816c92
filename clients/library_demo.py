"""A whole election at library level, printed step by step (``make demo``).

5 guardians run the key generation (t = 3); a generated roll of 60 voting owners (several with
two units, one co-owned unit, the developer's unsold units as one owner); every participating
owner obtains a blind credential for their weight class and casts an encrypted ballot on a
'major' motion; a forged and a replayed ballot are refused; 2 guardians are absent at the tally;
the result shows area and headcount per option, the quorum and the outcome under Art. 278.

This exercises :mod:`crypto` and :mod:`rules` directly; the gRPC server demo replaces it later.
"""

from __future__ import annotations

import random
import time
from dataclasses import replace
from fractions import Fraction

from crypto.ballot import Contest, ElectionContext, encrypt_ballot
from crypto.cast import sign_ballot, verify_cast_ballot
from crypto.codec import decode_cast_ballot, encode_cast_ballot
from crypto.credential import (
    IssuerKey,
    finalize_credential,
    generate_issuer_key,
    generate_token,
    issue_credential,
    request_credential,
    token_public_bytes,
)
from crypto.dkg import (
    DkgParameters,
    combine_shares,
    deal,
    dkg_result,
    generate_guardian_key,
    receive_share,
    verify_guardian_key,
)
from crypto.errors import CryptoError
from crypto.group import G, encode_point
from crypto.tally import aggregate, decrypt_aggregates, latest_per_token
from crypto.threshold import partial_decrypt
from rules.area import format_area
from rules.art278 import MAJOR, OptionTotals, Tally, evaluate, referendum_outcome
from rules.roll import DEVELOPER_OWNER_ID, Unit, compute_weights

ELECTION_ID = "sunrise-garden-2026-gate-repair"
MOTION = "Use 380,000 CNY of the maintenance fund to rebuild the north gate"
FLOOR_PLANS = [8950, 8950, 8950, 12025, 12025, 14300, 7580, 7580]  # 0.01 m²


def step(title: str) -> None:
    print(f"\n== {title}")


def generate_roll(rng: random.Random) -> list[Unit]:
    units: list[Unit] = []
    n = 0
    for i in range(1, 59):  # 58 private owners
        owner = f"owner-{i:03d}"
        for _ in range(2 if i % 7 == 0 else 1):  # every 7th owner holds two units
            n += 1
            units.append(Unit.sole(f"{'AB'[n % 2]}-{n:03d}", "AB"[n % 2], rng.choice(FLOOR_PLANS),
                                   owner))
    # one co-owned unit: registered to owner-059's spouse, owner-059 is the designated voter
    units.append(Unit(f"C-{n + 1:03d}", "C", 10250, "owner-059-spouse", "owner-059"))
    for k in range(4):  # the developer's unsold units count as one owner
        units.append(Unit.unsold(f"C-{n + 2 + k:03d}", "C", rng.choice(FLOOR_PLANS)))
    return units


def main() -> None:
    t_start = time.perf_counter()
    rng = random.Random(2026)
    print(f"ownervote library demo — election {ELECTION_ID!r}")
    print(f"motion (major matter, PRC Civil Code Art. 278): {MOTION}")

    step("1. Key ceremony: 5 guardians, any 3 can decrypt")
    params = DkgParameters(ELECTION_ID, n=5, t=3)
    guardians = [generate_guardian_key(params, i) for i in range(1, 6)]
    public_keys = [g.public for g in guardians]
    for k in public_keys:
        verify_guardian_key(params, k)
    dealings = [deal(params, i, public_keys)[0] for i in range(1, 6)]
    received = {g.index: {d.dealer: receive_share(params, g, d) for d in dealings}
                for g in guardians}
    dkg = dkg_result(params, dealings, upheld=[])
    shares = {g.index: combine_shares(dkg, g.index, received[g.index]) for g in guardians}
    print(f"   every guardian verified every share; qualified dealers {list(dkg.qualified)}")
    print(f"   joint public key K = {encode_point(dkg.joint_public_key).hex()}")
    print("   the joint secret key was never assembled")

    step("2. The roll")
    roll = compute_weights(generate_roll(rng))
    multi = sum(1 for o in roll.owners if len(o.units) > 1 and not o.is_developer)
    dev = roll.owner(DEVELOPER_OWNER_ID)
    print(f"   {sum(len(o.units) for o in roll.owners)} units, {roll.total_owners} voting owners, "
          f"total exclusive area {format_area(roll.total_area)} m²")
    print(f"   {multi} owners hold two units (areas summed, counted once); the developer's "
          f"{len(dev.units)} unsold units count as one owner of {format_area(dev.area)} m²")
    classes = roll.weight_classes()
    print(f"   {len(classes)} weight classes (one issuer key each): "
          + ", ".join(f"{format_area(c.area)} m² ×{c.owners}" for c in classes))

    contest = Contest.referendum()
    election = ElectionContext(ELECTION_ID, contest, dkg.joint_public_key)
    issuer_private = {c.area: generate_issuer_key() for c in classes}
    issuers = {w: IssuerKey(ELECTION_ID, w, sk.public_key()) for w, sk in issuer_private.items()}

    step("3. Credentials and ballots")
    ledger: list[bytes] = []  # accepted cast ballots, in order
    choices = {}
    voters = [o for o in roll.owners if rng.random() < 0.88]
    for owner in voters:
        token = generate_token()
        tpk = token_public_bytes(token)
        request = request_credential(issuers[owner.area], tpk)  # on the phone
        blind_sig = issue_credential(issuer_private[owner.area], request.blinded_msg)  # registrar
        credential = finalize_credential(request, blind_sig)  # on the phone
        choice = rng.choices([0, 1, 2], weights=[80, 12, 8])[0]
        choices[owner.owner_id] = choice
        cast = sign_ballot(token, encrypt_ballot(election, tpk, [choice]), credential)
        raw = encode_cast_ballot(cast)
        verify_cast_ballot(election, issuers, decode_cast_ballot(raw))  # the ballot box
        ledger.append(raw)
        last_voter = (token, credential, owner.owner_id)
    print(f"   {len(voters)} of {roll.total_owners} owners obtained a blind credential and cast "
          "an encrypted ballot; all verified")
    token, credential, owner_id = last_voter
    new_choice = (choices[owner_id] + 1) % 3
    revote = sign_ballot(token, encrypt_ballot(election, credential.token_public_key,
                                               [new_choice]), credential)
    verify_cast_ballot(election, issuers, revote)
    ledger.append(encode_cast_ballot(revote))
    choices[owner_id] = new_choice
    print(f"   {owner_id} changed their mind and voted again with the same token: "
          "the later ballot replaces the earlier one (both stay on the ledger)")

    step("4. Attacks refused (each names the failed check)")
    victim = decode_cast_ballot(ledger[0])
    other_class = max(w for w in issuers if w != victim.credential.weight)
    forged_weight = replace(victim, credential=replace(victim.credential, weight=other_class))
    moved = replace(victim, ballot=replace(victim.ballot, token_public_key=bytes(32)))
    # a voter who signs, with their own token, a ballot whose "approve" encrypts 2
    own = encrypt_ballot(election, credential.token_public_key, [0])
    sel0 = own.selections[0]
    doubled = replace(sel0, ciphertext=replace(sel0.ciphertext,
                                               beta=sel0.ciphertext.beta + G))
    double_vote = sign_ballot(token, replace(own, selections=(doubled, *own.selections[1:])),
                              credential)
    altered = replace(victim, ballot=replace(victim.ballot, selections=(
        victim.ballot.selections[1], victim.ballot.selections[0], victim.ballot.selections[2])))
    for name, attempt in (("claims a larger weight class", forged_weight),
                          ("moves the ballot to another token", moved),
                          ("is altered in transit", altered),
                          ("is signed by its voter but counts 'approve' twice", double_vote)):
        try:
            verify_cast_ballot(election, issuers, attempt)
            raise SystemExit(f"BUG: a ballot that {name} was accepted")
        except CryptoError as exc:
            print(f"   a ballot that {name}: refused ({exc})")

    step("5. Close and aggregate (anyone can recompute this from the public ballots)")
    counted = latest_per_token(
        (c.credential.weight, c.ballot) for c in map(decode_cast_ballot, ledger))
    aggregates = aggregate(counted, len(contest.options))
    n_classes = len({w for w, _ in counted})
    print(f"   {len(ledger)} ballots on the ledger, {len(counted)} counted (one per token) in "
          f"{n_classes} weight classes → {2 * len(contest.options)} encrypted totals")

    step("6. Tally: guardians 2 and 4 are absent; 1, 3 and 5 decrypt")
    present = [1, 3, 5]
    shares_by_label = {label: [partial_decrypt(ELECTION_ID, label, shares[g], ct) for g in present]
                       for label, ct in aggregates.labelled().items()}
    decrypted = decrypt_aggregates(ELECTION_ID, aggregates, shares_by_label,
                                   dkg.verification_keys, params.t, roll.total_area)
    print("   every partial decryption carried a valid Chaum–Pedersen proof")
    participating_area = aggregates.participating_area
    totals = {}
    for i, name in enumerate(contest.options):
        totals[f"{name}.count"] = decrypted.counts[i]
        totals[f"{name}.area"] = decrypted.areas[i]

    step("7. Result under Art. 278 (major matter: quorum 2/3 + 2/3, approval ≥ 3/4 + 3/4)")
    tally = Tally(roll.total_area, roll.total_owners, participating_area, len(counted),
                  tuple(OptionTotals(n, totals[f"{n}.area"], totals[f"{n}.count"])
                        for n in contest.options))
    result = evaluate(MAJOR, tally)
    expected = {n: sum(1 for c in choices.values() if c == i)
                for i, n in enumerate(contest.options)}
    assert all(totals[f"{n}.count"] == expected[n] for n in contest.options), "tally mismatch"

    def pct(f: Fraction) -> str:
        return f"{float(f) * 100:6.2f}%"  # display only; decisions use the exact fractions

    print(f"   participation: area {format_area(participating_area)} of "
          f"{format_area(roll.total_area)} m² ({pct(result.participation_area)}), owners "
          f"{len(counted)} of {roll.total_owners} ({pct(result.participation_headcount)}) — "
          f"quorum {'MET' if result.quorum_met else 'NOT MET'}")
    header = f"{'option':<8} {'area m²':>12} {'of area':>9} {'owners':>7} {'of owners':>10}"
    print(f"   {header}  status")
    for opt in result.options:
        t_opt = tally.option(opt.name)
        print(f"   {opt.name:<8} {format_area(t_opt.area):>12} {pct(opt.area_fraction):>9} "
              f"{t_opt.headcount:>7} {pct(opt.headcount_fraction):>10}  {opt.status.name}")
    print(f"   exact approve fractions: area {result.option('approve').area_fraction}, "
          f"owners {result.option('approve').headcount_fraction}")
    print(f"\n   OUTCOME: the motion is {referendum_outcome(result).name}")
    print(f"\n(done in {time.perf_counter() - t_start:.1f} s)")


if __name__ == "__main__":
    main()
