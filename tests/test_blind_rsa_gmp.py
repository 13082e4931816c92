"""crypto.blind_rsa's two arithmetic back ends (GMP through gmpy2, and Python ints as the
fallback) give the same RSA results, on the RFC 9474 Appendix A keys and on random inputs."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest

from crypto import blind_rsa as br
from crypto.errors import SigningFailure

VECTORS = json.loads((Path(__file__).parent / "vectors" / "rfc9474.json").read_text())


def h(s: str) -> bytes:
    return bytes.fromhex(s)


def private(v: dict) -> br.PrivateNumbers:
    p, q, e, d = (int(v[k], 16) for k in ("p", "q", "e", "d"))
    return br.PrivateNumbers(br.PublicNumbers(p * q, e), d, p, q, d % (p - 1), d % (q - 1),
                             pow(q, -1, p))


@pytest.fixture(params=["gmp", "python"])
def arithmetic(request, monkeypatch):
    if request.param == "python":
        monkeypatch.setattr(br, "_powmod", br._py_powmod)
        monkeypatch.setattr(br, "_powmod_secret", br._py_powmod)
        monkeypatch.setattr(br, "_invert", br._py_invert)
    return request.param


def test_the_pinned_gmpy2_is_installed() -> None:
    assert br.HAVE_GMPY2
    assert br._powmod_secret is br._gmp_powmod_secret


@pytest.mark.parametrize("v", VECTORS, ids=[v["name"] for v in VECTORS])
def test_blind_sign_matches_the_rfc_vectors(v, arithmetic) -> None:
    """RFC 9474 §4.3 BlindSign on Appendix A's blinded_msg gives Appendix A's blind_sig."""
    assert br.blind_sign(private(v), h(v["blinded_msg"])) == h(v["blind_sig"])


def test_back_ends_agree_on_random_inputs() -> None:
    v = VECTORS[0]
    priv = private(v)
    n = priv.public.n
    for _ in range(20):
        m = secrets.randbelow(n)
        want = pow(m, priv.d, n)
        assert br.RSASP1(priv, m) == want
        assert isinstance(br.RSASP1(priv, m), int)
        assert br._gmp_powmod_secret(m, priv.dmp1, priv.p) == pow(m, priv.dmp1, priv.p)
        assert br._gmp_powmod(want, priv.public.e, n) == m == br.RSAVP1(priv.public, want)
        assert br._gmp_invert(m, n) == pow(m, -1, n)
    with pytest.raises(ZeroDivisionError):
        br._gmp_invert(priv.p, n)
    with pytest.raises(ZeroDivisionError):
        br._py_invert(priv.p, n)


def test_a_faulty_crt_half_is_caught_with_either_back_end(arithmetic) -> None:
    """RFC 9474 §4.3 steps 3-4 (the fault-attack countermeasure) with the GMP CRT too."""
    v = VECTORS[0]
    good = private(v)
    faulty = br.PrivateNumbers(good.public, good.d, good.p, good.q, good.dmp1, good.dmq1 ^ 4,
                               good.iqmp)
    assert br.blind_sign(good, h(v["blinded_msg"])) == h(v["blind_sig"])
    with pytest.raises(SigningFailure):
        br.blind_sign(faulty, h(v["blinded_msg"]))
