"""A registrar's issuer keys (server/registrar/issuer_keys.py): one RSA key per weight class,
made once per election by the registrar and never by the server, stored encrypted under the
registrar's key encryption key, decrypted once and kept; no keys yet is not kept; the signed
``issuer-keys`` record verifies under the registrar's signing key (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import secrets

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from crypto.credential import issuer_key_from_spki
from crypto.issuance import decode_issuer_keys, verify_issuer_keys
from server.db import make_engine
from server.registrar.issuer_keys import IssuerKeys
from server.registrar.schema import registrar_keys
from server.schema import create_schema

SIGNING = Ed25519PrivateKey.from_private_bytes(b"\x41" * 32)
KEK = b"registrar-test-key-encryption-key"


@pytest.fixture
async def engine(dsn):
    engine = make_engine(dsn)
    await create_schema(engine)
    yield engine
    await engine.dispose()


def keys_of(engine, name: str | None = None, kek: bytes = KEK) -> IssuerKeys:
    return IssuerKeys(engine, name or f"reg-{secrets.token_hex(3)}", SIGNING, kek)


def test_a_short_key_encryption_key_is_refused():
    with pytest.raises(ValueError, match="16 bytes"):
        IssuerKeys(None, "r", SIGNING, b"short")  # type: ignore[arg-type]


async def test_keys_are_made_once_per_class_and_stored_encrypted(engine):
    keys = keys_of(engine)
    eid = f"e-{secrets.token_hex(3)}"
    assert await keys.public(eid) == {} and await keys.private(eid) == {}
    await asyncio.gather(keys.ensure(eid, [8950, 12025]), keys.ensure(eid, [8950, 12025]))
    public = await keys.public(eid)
    assert sorted(public) == [8950, 12025]
    await keys.ensure(eid, [8950, 12025])  # made already: unchanged
    assert await keys.public(eid) == public
    private = await keys.private(eid)
    for w, sk in private.items():
        assert issuer_key_from_spki(eid, w, public[w]).public_key.public_numbers() == \
            sk.public_key().public_numbers()
    async with engine.connect() as conn:
        rows = (await conn.execute(select(registrar_keys).where(
            registrar_keys.c.registrar == keys.registrar))).all()
    assert len(rows) == 2
    for row in rows:  # PKCS#8 encrypted: no private number in the clear
        d = private[row.weight].private_numbers().d
        assert d.to_bytes((d.bit_length() + 7) // 8, "big") not in bytes(row.private_key)
    # another registrar in the same store has keys of its own
    other = keys_of(engine)
    await other.ensure(eid, [8950, 12025])
    assert set((await other.public(eid)).values()).isdisjoint(public.values())


async def test_private_keys_are_decrypted_once_and_missing_keys_are_not_kept(engine):
    name = f"reg-{secrets.token_hex(3)}"
    keys = keys_of(engine, name)
    eid = f"e-{secrets.token_hex(3)}"
    assert await keys.private(eid) == {}  # none yet (before the ceremony): not kept
    await keys.ensure(eid, [8950])
    first = await keys.private(eid)
    assert sorted(first) == [8950]
    assert await keys.private(eid) is first  # kept: decrypted once
    with pytest.raises(ValueError):  # another key encryption key cannot decrypt them
        await keys_of(engine, name, b"another-key-encryption-key").private(eid)


async def test_the_issuer_keys_record_is_signed_by_the_registrar(engine):
    keys = keys_of(engine)
    eid = f"e-{secrets.token_hex(3)}"
    await keys.ensure(eid, [8950, 12025])
    record = decode_issuer_keys(await keys.record(eid))
    verify_issuer_keys(SIGNING.public_key().public_bytes_raw(), eid, record)
    assert record.registrar == keys.registrar
    assert dict(record.keys) == await keys.public(eid)
    with pytest.raises(Exception):  # noqa: B017 (any refusal): not for another election
        verify_issuer_keys(SIGNING.public_key().public_bytes_raw(), eid + "x", record)
    assert await keys.published(eid) is None
    await keys.mark_published(eid, 42)
    assert await keys.published(eid) == 42
