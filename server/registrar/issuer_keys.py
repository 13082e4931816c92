"""A registrar's issuer keys (docs/protocol.md §8.2): one RSA key per weight class of each
election that names it, generated here and never anywhere else, the private keys stored PKCS #8
under the registrar's key encryption key. :meth:`IssuerKeys.record` is its signed
``issuer-keys`` event (crypto/issuance.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import and_, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from crypto.credential import IssuerKey, generate_issuer_key
from crypto.issuance import IssuerKeysRecord, encode_issuer_keys, sign_issuer_keys

from ..db import read_engine
from .schema import registrar_keys


class IssuerKeys:
    def __init__(self, engine: AsyncEngine, registrar: str, signing_key: Ed25519PrivateKey,
                 kek: bytes) -> None:
        if len(kek) < 16:
            raise ValueError("the key encryption key must be at least 16 bytes")
        self.engine = engine
        self.reads = read_engine(engine)
        self.registrar = registrar
        self.signing_key = signing_key
        self.kek = kek
        self._private: dict[str, dict[int, rsa.RSAPrivateKey]] = {}

    def _where(self, election_id: str):
        return and_(registrar_keys.c.registrar == self.registrar,
                    registrar_keys.c.election_id == election_id)

    async def ensure(self, election_id: str, weights: Sequence[int]) -> None:
        """Generate the election's keys unless they exist (a concurrent or earlier call's
        keys win)."""
        if await self.public(election_id):
            return
        rows = []
        for w in sorted(weights):
            sk = await asyncio.to_thread(generate_issuer_key)  # RSA key generation: slow
            rows.append({"registrar": self.registrar, "election_id": election_id, "weight": w,
                         "spki": IssuerKey(election_id, w, sk.public_key()).spki,
                         "private_key": sk.private_bytes(
                             serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                             serialization.BestAvailableEncryption(self.kek))})
        try:
            async with self.engine.begin() as conn:
                await conn.execute(insert(registrar_keys), rows)
        except IntegrityError:
            pass  # made by another call meanwhile

    async def public(self, election_id: str) -> dict[int, bytes]:
        q = select(registrar_keys.c.weight, registrar_keys.c.spki).where(
            self._where(election_id))
        async with self.reads.connect() as conn:
            return {r.weight: bytes(r.spki) for r in (await conn.execute(q)).all()}

    async def record(self, election_id: str) -> bytes:
        """The signed ``issuer-keys`` event body of the election's keys."""
        keys = tuple(sorted((await self.public(election_id)).items()))
        return encode_issuer_keys(sign_issuer_keys(
            self.signing_key, election_id, IssuerKeysRecord(self.registrar, keys)))

    async def published(self, election_id: str) -> int | None:
        q = select(registrar_keys.c.published).where(self._where(election_id)).limit(1)
        async with self.reads.connect() as conn:
            row = (await conn.execute(q)).first()
        return None if row is None else row.published

    async def mark_published(self, election_id: str, index: int) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(update(registrar_keys).where(self._where(election_id))
                               .values(published=index))

    async def private(self, election_id: str) -> dict[int, rsa.RSAPrivateKey]:
        """The decrypted private keys of the election, by weight (decrypted once)."""
        keys = self._private.get(election_id)
        if keys is None:
            q = select(registrar_keys.c.weight, registrar_keys.c.private_key).where(
                self._where(election_id))
            async with self.reads.connect() as conn:
                rows = (await conn.execute(q)).all()
            keys = await asyncio.to_thread(lambda: {
                r.weight: serialization.load_der_private_key(bytes(r.private_key), self.kek)
                for r in rows})
            if keys:
                self._private[election_id] = keys
        return keys
