"""Printing what the ledger says: the result table and an election's audit summary (used by
the auditor, the voter and administrator CLIs and the demo). Fractions are shown as
percentages for reading; the decision itself was taken with the exact fractions, which are
printed alongside."""

from __future__ import annotations

from fractions import Fraction

from crypto.election_audit import ElectionAudit
from crypto.records import ResultOutcome, ResultRecord, RulePreset
from crypto.tally import highest_per_token
from rules.area import format_area

OUTCOME_NAMES = {ResultOutcome.NO_QUORUM: "NO QUORUM", ResultOutcome.PASSED: "PASSED",
                 ResultOutcome.REJECTED: "REJECTED"}


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:6.2f}%" if whole else "     —"


def result_table(options, result: ResultRecord, total_area: int, total_owners: int,
                 rule_text: str = "") -> list[str]:
    pa, po = result.participating_area, result.participating_owners
    lines = [
        f"participation: area {format_area(pa)} of {format_area(total_area)} m² "
        f"({_pct(pa, total_area).strip()}), owners {po} of {total_owners} "
        f"({_pct(po, total_owners).strip()}) — quorum {'MET' if result.quorum_met else 'NOT MET'}"
        + (f" ({rule_text})" if rule_text else ""),
        f"{'option':<16} {'area m²':>12} {'of area':>8} {'owners':>7} {'of owners':>9}  "
        f"{'exact (area; owners)':<24} outcome",
    ]
    for i, name in enumerate(options):
        a, c = result.areas[i], result.counts[i]
        exact = f"{Fraction(a, pa) if pa else 0}; {Fraction(c, po) if po else 0}"
        lines.append(f"{name:<16} {format_area(a):>12} {_pct(a, pa):>8} {c:>7} "
                     f"{_pct(c, po):>9}  {exact:<24} {OUTCOME_NAMES[result.outcomes[i]]}")
    return lines


def rule_text(e: ElectionAudit) -> str:
    names = {RulePreset.ORDINARY: "ordinary matter", RulePreset.MAJOR: "major matter",
             RulePreset.EXPLICIT: "explicit rule"}
    (qa, qh, aa, ah), strict = e.definition.rule.fractions, e.definition.rule.strict
    f = [f"{n}/{d}" for n, d in (qa, qh, aa, ah)]
    return (f"{names[e.definition.rule.preset]}: quorum {f[0]} area + {f[1]} owners; approval "
            f"{'>' if strict else '≥'} {f[2]} area + {f[3]} owners")


def election_summary(e: ElectionAudit) -> list[str]:
    d = e.definition
    lines = [f"election {d.election_id}: {e.state_name}",
             f"  motion: {d.motion}",
             f"  roll {d.roll_id}: hash {d.roll_hash.hex()}, {e.roll.total_owners} owners, "
             f"{format_area(e.roll.total_area)} m², {len(e.roll.classes)} weight classes",
             f"  ceremony deadline {d.ceremony_deadline}, at most {d.max_ballots_per_token} "
             "ballots per token"]
    if e.weak_threshold:
        lines.append(f"  WEAK THRESHOLD 弱门限: {d.threshold} of {d.guardians} guardians can "
                     "decrypt every ballot (allowed explicitly; the floor is t >= 2 and t > n/2) / "
                     f"{d.guardians} 名监票人中 {d.threshold} 名即可解密")
    if e.dkg is not None:
        lines.append(f"  ceremony: {d.guardians} guardians, threshold {d.threshold}, qualified "
                     f"{list(e.dkg.qualified)}; {len(e.complaints)} complaint(s)")
    lines.append(f"  registrars 登记机构: {len(d.registrars)}, a credential needs "
                 f"{d.registrar_threshold} of them; issuer keys signed by "
                 f"{', '.join(d.registrars[r].name for r in sorted(e.issuers)) or 'none yet'}")
    if e.ballots or e.aggregates is not None:
        counted = highest_per_token(e.ballots)
        lines.append(f"  ballots: {len(e.ballots)} on the ledger, every proof and signature "
                     f"verified; {len(counted)} counted (the highest counter of each token), "
                     f"{len(e.ballots) - len(counted)} replaced by a revote")
    if e.issuances:
        lines.append(f"  issuance 发放记录: {len(e.issuances)} records, each attested by the "
                     "identity provider and blind-signed by its registrar (every one verified)")
        for r, by_class in sorted(e.issued_per_class().items()):
            name = d.registrars[r].name
            final = "final batch on the ledger" if r in e.final else "no final batch yet"
            lines.append(f"    {name}: {sum(by_class.values())} issued in "
                         f"{len(by_class)} classes; {final}")
    if e.counted_per_registrar:
        lines.append("  voting tokens per registrar and class: none above the registrar's "
                     "issuance records there")
    if e.aggregates is not None:
        lines.append("  aggregates: recomputed from the counted ballots, identical")
    if e.shares:
        lines.append(f"  decryption shares: guardians {sorted(e.shares)}, every proof verified")
    if e.result is not None:
        lines.append(f"  result: recombined from guardians {list(e.result.guardians)}, decoded "
                     "and evaluated under the rule: identical to the published result")
        lines += ["  " + x for x in result_table(d.contest.options, e.result, e.roll.total_area,
                                                 e.roll.total_owners, rule_text(e))]
    return lines
