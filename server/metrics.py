"""Prometheus metrics of a process (prometheus-client), served on ``metrics_listen`` when the
configuration sets it (off by default). docs/metrics.md lists them.

Counted where the thing happens, once: every RPC's outcome in the ``answers`` decorator
(server/errors.py) by method, status code and reason — ballots accepted and refused by reason
are ``ownervote_rpc_total{method="CastBallot"}`` —; the ballot's verification in the ballot
box; each ledger batch at its commit; each credential at the registrar that issued it; each
database error that reached a handler.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram, start_http_server

RPCS = Counter("ownervote_rpc", "RPCs answered, by method, gRPC status code and ErrorInfo reason",
               ["method", "code", "reason"])
DATABASE_ERRORS = Counter("ownervote_database_errors",
                          "database errors that reached an RPC (answered UNAVAILABLE)",
                          ["method"])
VERIFY_SECONDS = Histogram("ownervote_ballot_verify_seconds",
                           "a ballot's full check (credential, signature, proofs), seconds",
                           buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0))
BATCH_ENTRIES = Histogram("ownervote_ledger_batch_entries", "entries per committed ledger batch",
                          buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000))
COMMIT_SECONDS = Histogram("ownervote_ledger_commit_seconds",
                           "a ledger batch's commit (store round trips and fsync), seconds",
                           buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0))
CREDENTIALS = Counter("ownervote_credentials_issued",
                      "credentials issued (a new blind signature, not an identical retry)",
                      ["registrar"])


def serve_metrics(listen: str) -> int:
    """Serve /metrics on ``listen`` (HOST:PORT; port 0: any free one); the port."""
    host, _, port = listen.rpartition(":")
    server, _ = start_http_server(int(port), addr=host.strip("[]") or "0.0.0.0")
    return server.server_port
