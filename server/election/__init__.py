"""The election service's domain: identity, credentials, ballots, ceremonies, tally."""
