"""An election as the co-signed ledger proves it: what a voter's device, a guardian and an
administrator act on, instead of what a server says (docs/protocol.md §13.3).

From an election's records — its events but the ballots, each with an inclusion proof against
one checkpoint the pinned bundle's witness quorum co-signed (the caller opens the checkpoint and
checks it against its view of the log: crypto/log/view.py) — :func:`election_from_records`
rebuilds the election exactly as the auditor does (crypto/election_audit.py's rules, without the
ballots): the definition and the roll it names, the state, the key ceremony with every complaint
judged and the joint key recomputed from the dealings, the issuer keys, and once published the
result recombined from the guardians' shares. Then every guardian key on the ledger must be the
one the bundle pins for that election (from READY on, all of them). What it returns is what a
client encrypts for; nothing in it came from a server's word.

A server that leaves an event out cannot make the client act on another election: the state it
shows is behind, a ceremony without its complaints gives another joint key than the one the
witnesses checked (so no ballot for it is ever co-signed), and a result needs its shares.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .dkg import guardian_fingerprint
from .election_audit import ElectionAudit, ElectionVerifier, ElectionViolation
from .encoding import decode_event, event_family
from .errors import UnpinnedKey
from .log.checkpoint import Checkpoint
from .log.receipt import ProvenEntry
from .public_election import PublicElection
from .records import ELECTION_FAMILY, DefinitionRecord, ElectionEvent, ElectionState


def election_from_records(election_id: str, checkpoint: Checkpoint,
                          entries: Sequence[ProvenEntry], guardians: Mapping[int, bytes], *,
                          require_guardians: bool = True,
                          registrars: Mapping[str, bytes] | None = None,
                          identity_provider: bytes | None = None
                          ) -> tuple[PublicElection, ElectionAudit]:
    """The election and what the ledger establishes about it. ``checkpoint`` is trusted by the
    caller; ``guardians`` are the bundle's pinned fingerprints for this election. Raises
    InvalidProof (an entry not in the checkpoint's tree), ElectionViolation (a rule broken, an
    entry of another election, no definition) or UnpinnedKey (a guardian key the bundle does not
    pin). ``require_guardians=False``: only the guardians the bundle pins are checked (for a
    client that reads the state, not the joint key). ``registrars`` / ``identity_provider``: the
    bundle's; every registrar the definition names must be one of them with the same key, and
    the definition's identity provider the bundle's (UnpinnedKey), so that a server cannot name
    registrars of its own making."""
    verifier = ElectionVerifier(with_ballots=False)
    last = -1
    for e in entries:
        if e.index <= last:
            raise ElectionViolation("the records are not in ledger order")
        last = e.index
        e.verify(checkpoint)
        event = decode_event(e.entry)
        if event_family(event.kind) != ELECTION_FAMILY:
            raise ElectionViolation(f"entry {e.index} is not an election event")
        if event.kind != ElectionEvent.ROLL and event.subject != election_id:
            raise ElectionViolation(f"entry {e.index} is an event of {event.subject!r}")
        verifier.apply(event, e.index)
    audit = verifier.election(election_id)
    check_guardians(election_id, audit, guardians, every=require_guardians)
    if registrars is not None:
        check_registrars(audit.definition, registrars, identity_provider)
    roll = audit.roll
    joint = audit.dkg.joint_public_key if audit.dkg is not None else None
    classes = dict(roll.classes)
    return PublicElection(audit.definition, audit.state, roll.total_area, roll.total_owners,
                          joint, {r: dict(ks) for r, ks in audit.issuers.items()},
                          {w: classes[w] for ks in audit.issuers.values() for w in ks}), audit


def check_guardians(election_id: str, audit: ElectionAudit, pinned: Mapping[int, bytes], *,
                    every: bool = True) -> None:
    """UnpinnedKey unless every guardian key on the ledger that the bundle pins is the bundle's,
    and (``every``) from READY on — a joint key exists — the bundle pins every guardian."""
    for index, key in sorted(audit.keys.items()):
        fp = pinned.get(index)
        if fp is not None and fp != guardian_fingerprint(election_id, key):
            raise UnpinnedKey(f"guardian {index}'s key on the ledger is not the one the trust "
                              "bundle pins")
    if every and audit.state >= ElectionState.READY:
        missing = [i for i in range(1, audit.definition.guardians + 1) if i not in pinned]
        if missing:
            raise UnpinnedKey(f"the trust bundle pins no key for guardian(s) {missing} of "
                              f"{election_id}: the joint key cannot be trusted")


def check_registrars(definition: DefinitionRecord, pinned: Mapping[str, bytes],
                     identity_provider: bytes | None) -> None:
    """UnpinnedKey unless every registrar the definition names is pinned by the bundle with the
    same key, and the definition trusts the bundle's identity provider."""
    for r in definition.registrars:
        if pinned.get(r.name) != r.key:
            raise UnpinnedKey(f"registrar {r.name!r} of {definition.election_id} is not one the "
                              "trust bundle pins (or has another key)")
    if identity_provider is not None and definition.identity_provider != identity_provider:
        raise UnpinnedKey(f"{definition.election_id} trusts another identity provider than the "
                          "trust bundle's")
