"""``make demo``: a whole election on a local deployment, printed step by step.

It starts the server (SQLite), three validating witnesses and three registrars (a credential
needs two of them; each is its own process with its own keys) as separate processes, imports a
generated roll of about 200 units (owners with two units, co-owned units voted by their
designated co-owner, the developer's unsold units as one owner), defines a major-matter motion
and schedules it; five guardians run the key ceremony over mutual TLS (any three can decrypt);
150 owners obtain blind credentials from the registrars and vote through the voter SDK, a few
change their vote, a few try something invalid and are refused; at the close the registrars
publish their final issuance batches and the server the aggregates, three guardians verify
the whole ledger and decrypt (two are absent), the result is published and printed, and the
auditor verifies the exported ledger — and refuses a tampered copy.
Everything it starts, it stops.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

import grpc

from crypto.cast import sign_ballot
from crypto.errors import CryptoError
from crypto.group import G
from crypto.log.export import encode_export
from crypto.records import ElectionState, RulePreset, preset_rule
from rules.area import format_area
from rules.roll import DEVELOPER_OWNER_ID, Unit, compute_weights
from rules.roll_csv import roll_to_csv

from .guardian_client import GuardianRefusal
from .impostor import Impostor
from .ledger_export import fetch_export
from .local_cluster import ROOT, LocalCluster
from .report import result_table
from .scenario import ElectionScenario, guardian_names
from .voter_sdk import PreparedCast, Refused, VoterClient

ELECTION_ID = "sunrise-garden-2026-north-gate"
MOTION = "Use 380,000 CNY of the maintenance fund to rebuild the north gate"
FLOOR_PLANS = [8950, 8950, 8950, 12025, 12025, 14300, 7580, 7580, 16845, 6520]  # 0.01 m²
GUARDIANS, THRESHOLD, PRESENT = 5, 3, (1, 3, 5)
REVOTERS = 5


def step(title: str) -> None:
    print(f"\n== {title}", flush=True)


def generate_roll(rng: random.Random) -> list[Unit]:
    """~200 units in four buildings: every 9th owner holds two units, every 15th unit is
    co-owned by a couple (the roll designates who votes), 8 units are the developer's."""
    units, owner = [], 0
    n = 0
    while n < 192:
        owner += 1
        for _ in range(2 if owner % 9 == 0 else 1):
            n += 1
            building = f"{1 + n % 4}号楼"
            uid, area = f"{1 + n % 4}-{n:03d}", rng.choice(FLOOR_PLANS)
            if n % 15 == 0:
                units.append(Unit(uid, building, area, f"owner-{owner:03d}-spouse",
                                  f"owner-{owner:03d}"))
            else:
                units.append(Unit.sole(uid, building, area, f"owner-{owner:03d}"))
    units += [Unit.unsold(f"5-{k:03d}", "5号楼", rng.choice(FLOOR_PLANS)) for k in range(1, 9)]
    return units


async def refused(what: str, call) -> None:
    try:
        await call
    except CryptoError as exc:
        print(f"   {what}: refused by the phone — {type(exc).__name__}: {exc}")
        return
    except Refused as exc:
        print(f"   {what}: refused — {exc}" + (f" [field {exc.field}]" if exc.field else ""))
        return
    except GuardianRefusal as exc:
        print(f"   {what}: refused by the guardian's own client — {exc}")
        return
    raise SystemExit(f"BUG: {what} was accepted")


async def run(cluster: LocalCluster, rng: random.Random, voters: int, window: int,
              lead: int) -> None:
    async with ElectionScenario(cluster, ELECTION_ID, guardians=GUARDIANS,
                                threshold=THRESHOLD, first_cast_delay=(0.5, 2.0)) as scenario:
        await story(scenario, rng, voters, window, lead)


async def story(scenario: ElectionScenario, rng: random.Random, voters: int, window: int,
                lead: int) -> None:
    cluster, admin, voter = scenario.cluster, scenario.admin, scenario.voter
    step("1. The roll, as the housing bureau delivers it (CSV), imported by an administrator "
         "over mutual TLS")
    units = generate_roll(rng)
    roll = compute_weights(units)
    r = await scenario.define(roll_to_csv(units).encode(), "sunrise-garden", motion=MOTION,
                              opens_in=lead, open_for=window, rule=preset_rule(RulePreset.MAJOR))
    dev = roll.owner(DEVELOPER_OWNER_ID)
    print(f"   {r.units} units, {r.owners} voting owners, {format_area(r.total_area)} m²; roll "
          f"hash {r.roll_hash.hex()[:16]}… on the ledger at index {r.receipt.index}")
    print(f"   {sum(1 for o in roll.owners if len(o.units) == 2 and not o.is_developer)} owners "
          f"hold two units (areas summed, counted once); "
          f"{sum(1 for u in units if u.owner_id != u.designated_voter and not u.developer_unsold)} "
          f"co-owned units vote through their designated co-owner; the developer's "
          f"{len(dev.units)} unsold units are one owner of {format_area(dev.area)} m²")

    step("2. The election: a major matter (PRC Civil Code Art. 278), scheduled")
    print(f"   {MOTION!r}\n   opens in {lead} s, closes {window} s later; "
          f"{GUARDIANS} guardians, any {THRESHOLD} decrypt; state "
          f"{(await admin.state(ELECTION_ID)).name}")

    step("3. Key ceremony: 5 guardians over mutual TLS, each speaking only for itself")
    election = await scenario.run_ceremony(timeout=60)
    print(f"   each guardian stated its key's fingerprint; the community pinned all five in the "
          f"trust bundle, now {cluster.bundle.fingerprint()}; every guardian dealt only to "
          "pinned keys")
    print(f"   every guardian checked every share addressed to it and the joint key "
          f"{scenario.guardian(1).state.joint_public_key.hex()[:16]}… recomputed from the public "
          "messages; no joint secret exists anywhere")
    regs = election.definition.registrars
    print(f"   READY: {len(election.issuers)} of the {len(regs)} registrars "
          f"({', '.join(r.name for r in regs)}) put their own issuer keys on the ledger, each "
          f"signed by the key the trust bundle pins; a credential needs "
          f"{election.definition.registrar_threshold} of them. The server holds none.")
    print(f"   the phone recomputes the election hash {election.context.hash.hex()[:16]}…")

    step(f"4. {voters} owners obtain a blind credential from the registrars and vote (the phone "
         "blinds once per registrar, then the identity provider attests those blinded messages "
         "only; each registrar, over a connection of its own, signs blind and never sees the "
         "token; the first ballot waits a random delay after registration)")
    voting = rng.sample(list(roll.owners), voters)
    choices: dict[str, int] = {}
    t0 = time.perf_counter()
    wallets = await scenario.issue([o.owner_id for o in voting], concurrency=12,
                                   election=election)
    t_cred = time.perf_counter() - t0
    print(f"   {len(wallets)} credentials in {t_cred:.1f} s, each signed by "
          f"{min(len(w.credential.signatures) for w in wallets.values())}+ registrars")
    await scenario.wait_for(ElectionState.OPEN, timeout=60)
    limit = asyncio.Semaphore(12)

    async def cast(owner, choice: int) -> None:
        async with limit:  # the wallet comes back advanced to the ballot's revote counter
            wallets[owner.owner_id] = (await voter.cast(election, wallets[owner.owner_id],
                                                        [choice])).wallet
            choices[owner.owner_id] = choice

    t0 = time.perf_counter()
    await asyncio.gather(*(cast(o, rng.choices([0, 1, 2], weights=[82, 12, 6])[0])
                           for o in voting))
    t_cast = time.perf_counter() - t0
    print(f"   {len(choices)} ballots cast in {t_cast:.1f} s; every receipt verified against a "
          "checkpoint co-signed by the witnesses (which replay every rule before signing)")
    before_revote = wallets[voting[0].owner_id]  # a copy, as a thief's or a stale backup
    for owner in voting[:REVOTERS]:  # the ballot of a token with the highest counter counts
        await cast(owner, (choices[owner.owner_id] + 1) % 3)
    print(f"   {REVOTERS} owners changed their mind and voted again (revote counter 2, signed "
          "by the token): the highest counter counts")

    step("5. Attempts that are refused")
    owner, wallet = voting[0], wallets[voting[0].owner_id]
    att0, sig0 = cluster.provider.attest(owner.owner_id, ELECTION_ID, [b"\x01" * 256])
    await refused("a second credential for the same owner",
                  voter.obtain_credential(election, cluster.provider.attester(
                      owner.owner_id, ELECTION_ID)))
    att, sig = cluster.provider.attest("stranger-001", ELECTION_ID)
    await refused("a credential for someone not on the roll", voter.eligibility(election, att, sig))
    ballot = voter.prepare_cast(election, wallet, [choices[owner.owner_id]])
    first = await voter.send(ballot)
    wallet = wallets[owner.owner_id] = ballot.wallet
    again = await voter.send(ballot)
    same = again.receipt.index == first.receipt.index
    print(f"   the same ballot sent again (a reply lost, or a replay): "
          f"{'its original receipt' if same else 'A NEW ENTRY'} (ledger index "
          f"{again.receipt.index}), nothing added — 同一选票重发只返回原回执")
    await refused("a new ballot under an earlier revote counter (it would not outrank the "
                  "owner's latest)", voter.send(voter.prepare_cast(
                      election, replace(wallet, last_counter=1), [0])))
    signed = ballot.cast
    sel = signed.ballot.selections[0]
    twice = replace(sel, ciphertext=replace(sel.ciphertext, beta=sel.ciphertext.beta + G))
    stuffed = sign_ballot(wallet.token, replace(signed.ballot, selections=(
        twice, *signed.ballot.selections[1:])), wallet.credential, wallet.next_counter)
    await refused("a ballot whose 'approve' counts twice (signed by its voter)",
                  voter.send(PreparedCast.of(stuffed)))
    await refused("the owner's attestation, stolen and replayed with another blinded message",
                  voter.obtain_credential(election, lambda _: (att0, sig0)))
    minted = replace(signed, credential=replace(wallet.credential,
                                                signatures=wallet.credential.signatures[:1]))
    await refused("a ballot whose credential carries one registrar's signature (an operator "
                  "holding one registrar's keys)", voter.send(PreparedCast.of(minted)))
    other = max(w for w in election.weights if w != wallet.credential.weight)
    inflated = replace(signed, credential=replace(wallet.credential, weight=other))
    await refused("a credential claiming a larger weight class",
                  voter.send(PreparedCast.of(inflated)))
    await refused("guardian 2 asked to decrypt while the election is open",
                  scenario.guardian(2).decrypt())

    step("5b. A server that lies to a phone (clients/impostor.py): the pinned bundle refuses it")
    witnesses = [w.name for w in cluster.bundle.witnesses]
    for lies, what, call in (
            ({"joint_key"}, "an election with a joint key whose secret the server knows, on a "
             "ledger of its own keys", lambda p: p.election(ELECTION_ID)),
            ({"tampered"}, "the real co-signed checkpoint with one dealing replaced",
             lambda p: p.election(ELECTION_ID)),
            ({"receipt"}, "a receipt stripped to one witness's cosignature",
             lambda p: p.cast(election, wallets[voting[1].owner_id], [choices[
                 voting[1].owner_id]])),
            ({"self_signed"}, "a receipt of a log the server signed itself",
             lambda p: p.cast(election, wallet, [0]))):
        async with Impostor(cluster.address, cluster.origin, witnesses, lies,
                            cluster.credentials()) as impostor:
            channel = grpc.aio.insecure_channel(impostor.address)
            await refused(what, call(VoterClient(channel, cluster.bundle)))
            await channel.close()

    step("6. The close: the server seals the ballot box and publishes the aggregates")
    await scenario.wait_for(ElectionState.TALLYING, timeout=window + 60)
    await refused("a ballot after the close", voter.cast(election, wallet, [0]))
    print("   every registrar's final issuance batch is on the ledger (each record: the owner, "
          "the class, the identity provider's attestation, the blind signature; ordered by "
          "owner id, never by arrival); no registrar signed more voting tokens of a class "
          "than it has records; then the encrypted totals per option: headcount, and area "
          "(class sums × class weight)")
    mine = await voter.issued_to(ELECTION_ID, owner.owner_id)
    nobody = next(o.owner_id for o in roll.owners if o.owner_id not in wallets)
    print(f"   owner {owner.owner_id} looks up the ledger: credentials issued in their name by "
          f"{', '.join(n for n, _ in mine)}; owner {nobody}, who did not register, finds "
          f"{len(await voter.issued_to(ELECTION_ID, nobody))}")

    step("7. Tally: guardians 2 and 4 are absent; 1, 3 and 5 each download the whole ledger, "
         "verify every ballot, recompute the aggregates and decrypt them")
    for i, n in (await scenario.decrypt(PRESENT)).items():
        print(f"   guardian {i}: ledger verified, {n} decryption shares with proofs submitted")
    await scenario.wait_for(ElectionState.PUBLISHED, timeout=60)
    result = await voter.result(ELECTION_ID)
    print("\n".join("   " + x for x in result_table(
        result.option_names, result.record, election.total_area, election.total_owners,
        "major matter: quorum 2/3 area + 2/3 owners; approval ≥ 3/4 area + 3/4 owners")))
    expected = Counter(choices.values())
    area = {i: sum(roll.owner(o).area for o, c in choices.items() if c == i) for i in range(3)}
    assert all(o.headcount == expected[i] and o.area == area[i]
               for i, o in enumerate(result.options)), "the tally does not match the votes"
    print(f"\n   OUTCOME: the motion is {result.options[0].outcome.name} "
          f"(the published result's receipt is at ledger index {result.receipt.index}); "
          "the totals equal the votes the demo cast")
    counted = await voter.check_counted(wallet)
    print(f"   已计入 / counted: owner {owner.owner_id}'s phone proves from the ledger that its "
          f"latest ballot (revote {counted.counter}, index {counted.index}) is the one counted, "
          f"before the close at index {counted.close_index}")
    await refused("the same owner's wallet as copied before the revotes (a stolen phone's)",
                  voter.check_counted(before_revote))
    async with Impostor(cluster.address, cluster.origin, witnesses, {"result"},
                        cluster.credentials()) as impostor:
        channel = grpc.aio.insecure_channel(impostor.address)
        await refused("an invented result (the motion 'passed' the other way round)",
                      VoterClient(channel, cluster.bundle).result(ELECTION_ID))
        await channel.close()

    step("8. The auditor: export the ledger and verify everything independently")
    export_path = cluster.directory / "ledger.export"
    for _ in range(100):  # until the PUBLISHED transition is in a co-signed checkpoint
        export = await fetch_export(scenario.voter.channel)
        if len(export.entries) > result.receipt.index + 1:
            break
        await asyncio.sleep(0.1)
    export_path.write_bytes(encode_export(export))
    audit = [sys.executable, "-m", "clients.auditor", "verify", "--trust",
             str(cluster.trust_file), "--export", str(export_path), "--election", ELECTION_ID]
    done = subprocess.run(audit, cwd=ROOT, capture_output=True, text=True)
    print("\n".join("   " + x for x in done.stdout.splitlines()))
    if done.returncode != 0:
        raise SystemExit(f"BUG: the auditor failed: {done.stderr}")
    data = bytearray(export_path.read_bytes())
    data[len(data) // 2] ^= 0x01
    export_path.with_suffix(".tampered").write_bytes(bytes(data))
    audit[audit.index(str(export_path))] = str(export_path.with_suffix(".tampered"))
    bad = subprocess.run(audit, cwd=ROOT, capture_output=True, text=True)
    if bad.returncode == 0:
        raise SystemExit("BUG: the auditor accepted a tampered copy")
    print(f"   a copy with one flipped bit: exit {bad.returncode} — {bad.stderr.strip()}")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m clients.demo", description=__doc__.split("\n")[0])
    p.add_argument("--voters", type=int, default=150, help="owners who vote (of ~174)")
    p.add_argument("--window", type=int, default=40, help="seconds between opening and closing")
    p.add_argument("--lead", type=int, default=20, help="seconds from scheduling to opening")
    args = p.parse_args(argv)
    t_start = time.perf_counter()
    print("ownervote demo — a verifiable, secret, area-and-headcount-weighted vote")
    directory = Path(tempfile.mkdtemp(prefix="ownervote-demo-"))
    cluster = LocalCluster(directory, guardian_names=guardian_names(ELECTION_ID, GUARDIANS))
    try:
        step("0. Starting the server (SQLite), three validating witnesses and three registrars "
             "(committee, housing bureau, street office: each its own process, store and keys)")
        cluster.start()
        print(f"   server {cluster.address} (TLS; mutual TLS for guardians and administrators "
              f"on {cluster.secure_address}); witnesses co-sign with quorum {cluster.quorum} of "
              f"{cluster.witnesses}")
        print(f"   the deployment's trust bundle {cluster.trust_file.name}: fingerprint "
              f"{cluster.bundle.fingerprint()} (posted on the notice board; every client pins "
              "it and trusts nothing the server says)")
        asyncio.run(run(cluster, random.Random(2026), args.voters, args.window, args.lead))
    finally:
        cluster.stop()
        print(f"\n(all processes stopped; done in {time.perf_counter() - t_start:.1f} s)")
    shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
