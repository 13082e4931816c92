"""The consortium ledger: an append-only Merkle log with signed, witness-co-signed checkpoints."""
