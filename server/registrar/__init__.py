"""The registrar: checks an owner's identity attestation against the roll and issues blind
credentials (docs/protocol.md §8). It reads the election's state from the ledger and never
imports :mod:`server.election`.

So far here: the identity check (:mod:`.identity`: the attestation verifier, the nonce-once
registry and the guarded verifier with its failure limits, :mod:`.limits`) and its tables
(:mod:`.schema`). RegistrationService still runs inside ``python -m server``
(server/election/rpc/registration_service.py), importing these.
"""
