"""A registrar: its own process, run by one organisation of the consortium, that checks an
owner's identity attestation against its own copy of the roll and issues blind credentials with
its own issuer keys (docs/protocol.md §8). It reads the election's state from the co-signed
ledger (follower.py), never from the server's word, and never imports server/election/.

Its parts: identity.py and limits.py (the attestation check, nonces once, failure limits),
roll.py (its copy of the roll), issuer_keys.py, issuance.py (issuing, batches), follower.py (the
ledger), service.py (RegistrationService), node.py (the duties), schema.py, __main__.py.
"""
