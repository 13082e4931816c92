"""A consortium witness: checks that a log only grows, then co-signs its checkpoints."""
