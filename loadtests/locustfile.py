"""Locust load test of an ownervote server over gRPC: owners obtaining credentials and casting
ballots, and readers checking receipts, elections and checkpoints.

Normally run by ``make loadtest`` (``loadtests/loadtest.py``), which starts a deployment,
prepares the request pool and runs::

    OWNERVOTE_LOAD_POOL=pool.json OWNERVOTE_LOAD_CA=ca.pem locust -f loadtests/locustfile.py \\
        --headless -u 20 -r 10 -t 30s --host 127.0.0.1:PORT --only-summary

``--host`` is the server's public gRPC address (``HOST:PORT``), reached over TLS verified with
the CA in env ``OWNERVOTE_LOAD_CA`` (unset: plain gRPC to a development server); the credential
requests go to the registrar at env ``OWNERVOTE_LOAD_REGISTRAR`` (``HOST:PORT``, the one the
pool's requests are for, over the same TLS; unset: no credential requests are sent). The pool
(JSON written by ``loadtests/prepare.py``, path in env ``OWNERVOTE_LOAD_POOL``) holds serialized
requests made before the timed phase, so no cryptography runs here: each request is sent once,
popped from the pool, which is loaded once per process. It serves one locust process (a
standalone run, not ``--processes``/workers, which would each send the same requests).

Following locust's documented gRPC pattern: grpc is switched to gevent before any channel is
opened; every unary call goes through :class:`LocustInterceptor`, which reports it to locust's
``request`` event (name ``Service/Method``, time in ms, response size) — a gRPC error (a refusal
such as ALREADY_EXISTS, or UNAVAILABLE) is reported as a failure, ``CODE (REASON)`` when the
server names a reason, else ``CODE: details``.

Users:

* :class:`VoterUser` (weight 4, no think time): sends a prepared ``CastBallot`` (3 in 4) or a
  prepared ``RequestCredential`` (1 in 4); when one pool runs dry it sends from the other, and
  when both are dry the user stops.
* :class:`ReaderUser` (weight 1, 0.2–1 s think time): ``LedgerService.GetReceipt`` by the leaf
  hash of a ballot already cast, ``ElectionService.GetElection``,
  ``LedgerService.GetCheckpoint``.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import random
import time
from pathlib import Path

import grpc
import grpc.experimental.gevent as grpc_gevent
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from locust import User, between, constant, task
from locust.exception import StopUser
from ownervote.v1 import election_pb2, election_pb2_grpc, ledger_pb2, ledger_pb2_grpc

grpc_gevent.init_gevent()  # before any channel: grpc's I/O cooperates with gevent

POOL_ENV = "OWNERVOTE_LOAD_POOL"
CA_ENV = "OWNERVOTE_LOAD_CA"
REGISTRAR_ENV = "OWNERVOTE_LOAD_REGISTRAR"
log = logging.getLogger("ownervote.loadtest")


class GrpcFailure(Exception):
    """A failed call as locust's statistics show it (and group it): ``CODE (REASON)`` when the
    server's rich status names a reason (``UNAVAILABLE (COSIGNING_PENDING)``), else
    ``CODE: details``."""

    @classmethod
    def of(cls, error: grpc.RpcError) -> GrpcFailure:
        status = rpc_status.from_call(error) if hasattr(error, "trailing_metadata") else None
        for detail in status.details if status is not None else ():
            if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                detail.Unpack(info)
                return cls(f"{error.code().name} ({info.reason})")
        return cls(f"{error.code().name}: {error.details()}")


class Pool:
    """The prepared requests (serialized protobuf), loaded once per process."""

    _loaded: Pool | None = None

    def __init__(self, path: str) -> None:
        with open(path) as f:
            d = json.load(f)
        if d.get("version") != 2:
            raise ValueError(f"{path}: not a version 2 load-test pool")
        self.elections: list[str] = d["elections"]
        # popped from the end: reverse, so that they go out in the prepared order
        self.credential_requests = [base64.b64decode(r) for r in
                                    reversed(d["credential_requests"])]
        self.cast_requests = [base64.b64decode(r) for r in reversed(d["cast_requests"])]
        self.receipt_leaves = [bytes.fromhex(h) for h in d["receipt_leaves"]]
        self.warned: set[str] = set()
        log.info("pool %s: %d credential requests, %d cast requests, %d receipts, "
                 "%d elections", path, len(self.credential_requests), len(self.cast_requests),
                 len(self.receipt_leaves), len(self.elections))

    @classmethod
    def get(cls) -> Pool:
        if cls._loaded is None:
            path = os.environ.get(POOL_ENV)
            if not path:
                raise RuntimeError(f"set {POOL_ENV} to the pool file of loadtests/prepare.py")
            cls._loaded = cls(path)
        return cls._loaded

    def take(self, kind: str) -> bytes | None:
        """The next prepared request of a kind, or None when they are used up."""
        requests = getattr(self, kind)
        if requests:
            return requests.pop()  # no greenlet switch here: each request goes out once
        if kind not in self.warned:
            self.warned.add(kind)
            log.warning("the pool's %s are used up", kind.replace("_", " "))
        return None


def method_name(method: str | bytes) -> str:
    """``/ownervote.v1.BallotBoxService/CastBallot`` → ``BallotBoxService/CastBallot``."""
    if isinstance(method, bytes):
        method = method.decode()
    service, _, name = method.lstrip("/").partition("/")
    return f"{service.rsplit('.', 1)[-1]}/{name}"


class LocustInterceptor(grpc.UnaryUnaryClientInterceptor):
    """Reports every unary call to locust's ``request`` event."""

    def __init__(self, environment) -> None:
        self.environment = environment

    def intercept_unary_unary(self, continuation, client_call_details, request):
        start = time.perf_counter()
        call = continuation(client_call_details, request)
        exception, length = None, 0
        try:
            length = call.result().ByteSize()
        except grpc.RpcError as exc:
            exception = GrpcFailure.of(exc)
        self.environment.events.request.fire(
            request_type="grpc", name=method_name(client_call_details.method),
            response_time=(time.perf_counter() - start) * 1000, response_length=length,
            exception=exception, context={})
        return call  # the stub's caller gets the response, or the RpcError raised again


class GrpcUser(User):
    """A user with one intercepted gRPC channel to ``self.host`` (``HOST:PORT``)."""

    abstract = True

    def __init__(self, environment) -> None:
        super().__init__(environment)
        if not self.host:
            raise RuntimeError("give the server's gRPC address with --host HOST:PORT")
        self._channel = self.open(self.host.split("://", 1)[-1].rstrip("/"))
        registrar = os.environ.get(REGISTRAR_ENV, "")
        self._registrar = self.open(registrar) if registrar else None
        self.pool = Pool.get()

    def open(self, target: str) -> grpc.Channel:
        ca = os.environ.get(CA_ENV)
        channel = grpc.secure_channel(target, grpc.ssl_channel_credentials(
            Path(ca).read_bytes())) if ca else grpc.insecure_channel(target)
        return grpc.intercept_channel(channel, LocustInterceptor(self.environment))

    def on_stop(self) -> None:
        self._channel.close()
        if self._registrar is not None:
            self._registrar.close()

    def call(self, method, request) -> object | None:
        """One call; a gRPC error is already counted as a failure by the interceptor."""
        try:
            return method(request)
        except grpc.RpcError:
            return None


class VoterUser(GrpcUser):
    """Owners at the peak: prepared ballots and credential requests, back to back."""

    weight = 4
    wait_time = constant(0)

    def __init__(self, environment) -> None:
        super().__init__(environment)
        self.ballot_box = election_pb2_grpc.BallotBoxServiceStub(self._channel)
        self.registration = (None if self._registrar is None else
                             election_pb2_grpc.RegistrationServiceStub(self._registrar))

    def _cast(self) -> bool:
        request = self.pool.take("cast_requests")
        if request is None:
            return False
        self.call(self.ballot_box.CastBallot, election_pb2.CastBallotRequest.FromString(request))
        return True

    def _credential(self) -> bool:
        if self.registration is None:
            return False
        request = self.pool.take("credential_requests")
        if request is None:
            return False
        self.call(self.registration.RequestCredential,
                  election_pb2.RequestCredentialRequest.FromString(request))
        return True

    @task(3)
    def cast_ballot(self) -> None:
        if not (self._cast() or self._credential()):
            raise StopUser()

    @task(1)
    def request_credential(self) -> None:
        if not (self._credential() or self._cast()):
            raise StopUser()


class ReaderUser(GrpcUser):
    """Owners checking their receipts, the election and the ledger's checkpoint."""

    weight = 1
    wait_time = between(0.2, 1.0)

    def __init__(self, environment) -> None:
        super().__init__(environment)
        self.elections = election_pb2_grpc.ElectionServiceStub(self._channel)
        self.ledger = ledger_pb2_grpc.LedgerServiceStub(self._channel)

    @task(3)
    def get_receipt(self) -> None:
        if self.pool.receipt_leaves:
            self.call(self.ledger.GetReceipt, ledger_pb2.GetReceiptRequest(
                leaf_hash=random.choice(self.pool.receipt_leaves)))

    @task(2)
    def get_election(self) -> None:
        self.call(self.elections.GetElection, election_pb2.GetElectionRequest(
            election_id=random.choice(self.pool.elections)))

    @task(1)
    def get_checkpoint(self) -> None:
        self.call(self.ledger.GetCheckpoint, ledger_pb2.GetCheckpointRequest())
