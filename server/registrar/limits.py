"""Failure limits for registration, and the client address they are keyed by.

A limiter allows at most ``limit`` failures per key in a sliding ``window`` of seconds: a
failure past that is not recorded and is answered with how long until the oldest counted one
leaves the window (:meth:`FailureLimiter.failed`). Only failures are counted, so a limiter
never stands in the way of a request that passes every check (server/registrar/identity.py).

* :class:`DatabaseFailureLimiter` — the failures in the ``registration_failures`` table
  (server/registrar/schema.py), so every process on one database shares them: a client that
  spreads its attempts over several server processes meets one limit. Its clock is the wall
  clock (``time.time``), which the processes share.
* :class:`MemoryFailureLimiter` — the single-process fallback (one process, or tests).

:func:`client_address` is the key of a client: its IP address as gRPC reports the connection's
peer (``ipv4:1.2.3.4:port`` → ``1.2.3.4``, ``ipv6:[2001:db8::1]:port`` → ``2001:db8::/64``),
never the port, so that opening a new connection does not give a client a new allowance. An IPv6
client is limited by its /64, the block one subscriber is given. Behind a reverse proxy every
connection comes from the proxy: a deployment names the header in which its proxy passes the
client's address (``trusted_proxy_header``, server/config.py), and only then is the header read
(its last value, the one the proxy itself wrote); a client's own header is otherwise ignored.
"""

from __future__ import annotations

import hashlib
import ipaddress
import secrets
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import unquote

from sqlalchemy import and_, delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from .schema import registration_failures

Clock = Callable[[], float]
IPV6_PREFIX = 64


class FailureLimiter(Protocol):
    async def failed(self, key: str) -> float | None:
        """Record a failure of ``key`` if it is within its limit and return None; if it has
        used its limit already, record nothing and return the seconds until it may fail
        again."""


@dataclass
class MemoryFailureLimiter:
    """At most ``limit`` failures per key in a sliding ``window`` of seconds, in this process."""

    limit: int
    window: float
    clock: Clock = time.monotonic
    _failures: dict[str, deque] = field(default_factory=dict)
    _swept: float = 0.0

    async def failed(self, key: str) -> float | None:
        now = self.clock()
        self._sweep(now)
        q = self._failures.setdefault(key, deque())
        while q and q[0] <= now - self.window:
            q.popleft()
        if len(q) >= self.limit:
            return q[0] + self.window - now
        q.append(now)
        return None

    def _sweep(self, now: float) -> None:
        """Forget the keys whose failures all left the window (at most once a window)."""
        if now - self._swept < self.window:
            return
        self._swept = now
        for key in [k for k, q in self._failures.items() if not q or q[-1] <= now - self.window]:
            del self._failures[key]


class DatabaseFailureLimiter:
    """At most ``limit`` failures per key in a sliding ``window`` of seconds, counted in the
    database every process shares. Each failure is a row that names the key by its SHA-256
    and carries when it leaves the window; a key's rows that left it are deleted when the key
    fails again, and every key's once a window. Two processes that count at the same instant
    may both record one failure over the limit; no more."""

    def __init__(self, engine: AsyncEngine, limit: int, window: float,
                 clock: Clock = time.time, *, scope: str = "") -> None:
        self.engine = engine
        self.scope = scope  # e.g. the registrar's name: several may share one database
        self.limit = limit
        self.window = window
        self.clock = clock
        self._swept = 0.0

    async def failed(self, key: str) -> float | None:
        now_ms = int(self.clock() * 1000)
        key_hash = hashlib.sha256(f"{self.scope}/{key}".encode() if self.scope
                                  else key.encode()).digest()
        t = registration_failures
        mine = t.c.key_hash == key_hash
        async with self.engine.begin() as conn:
            if now_ms - self._swept >= self.window * 1000:
                self._swept = now_ms
                await conn.execute(delete(t).where(t.c.expires_at <= now_ms))
            else:
                await conn.execute(delete(t).where(and_(mine, t.c.expires_at <= now_ms)))
            count, first = (await conn.execute(
                select(func.count(), func.min(t.c.expires_at)).where(
                    and_(mine, t.c.expires_at > now_ms)))).one()
            if count >= self.limit:
                return (first - now_ms) / 1000
            await conn.execute(insert(t).values(
                key_hash=key_hash, expires_at=now_ms + int(self.window * 1000),
                tag=secrets.token_bytes(8)))
        return None


def peer_address(peer: str) -> str:
    """The client's IP address in gRPC's ``context.peer()`` (``ipv4:1.2.3.4:5678``,
    ``ipv6:[::1]:5678``, percent-encoded or not), normalised by :func:`normalise_address`;
    a peer of another kind (``unix:…``) is its kind alone (all such clients share one key)."""
    kind, _, rest = (peer or "").partition(":")
    rest = unquote(rest)
    if kind == "ipv4":
        host = rest.rsplit(":", 1)[0]
    elif kind == "ipv6":
        host = rest[1:rest.find("]")] if rest.startswith("[") else rest.rsplit(":", 1)[0]
    else:
        return kind or "unknown"
    return normalise_address(host) or kind


def normalise_address(text: str) -> str | None:
    """An IP address as the key of its client: IPv4 as it is (an IPv4-mapped IPv6 address
    too), IPv6 as its /64 network; None if ``text`` is no IP address."""
    try:
        ip = ipaddress.ip_address(text.strip().split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, IPV6_PREFIX), strict=False))
    return str(ip)


def client_address(peer: str, metadata: Iterable[tuple[str, str]] | None = None,
                   trusted_header: str = "") -> str:
    """The key of the client making a call: the address in ``trusted_header`` when the
    deployment names one and the call carries it (its last value, and of a comma-separated
    list such as ``X-Forwarded-For`` its last element: what the trusted proxy itself saw),
    otherwise the connection's peer address (:func:`peer_address`)."""
    if trusted_header:
        values = [v for k, v in (metadata or ()) if k.lower() == trusted_header]
        if values:
            value = values[-1]
            if isinstance(value, bytes):
                value = value.decode("latin-1")
            address = normalise_address(value.rsplit(",", 1)[-1])
            if address is not None:
                return address
    return peer_address(peer)
