"""The demo identity provider's CLI: ``python -m clients.identity_provider``.

    key --key-file F              create the provider's Ed25519 key (prints the public key hex,
                                  which the server's ``identity_provider_key`` setting trusts)
    attest --key-file F --owner O --election E [--blinded-digest HEX ...] [--out FILE]
                                  sign a fresh attestation (JSON) for owner O and election E,
                                  authorising the blinded messages whose SHA-256 digests are
                                  given (none: an eligibility-only attestation)

In production this is the real-name / face-recognition service, which checks an ID card and a
face before it signs; this stand-in signs for whoever it is told, but it signs exactly what the
production provider must (docs/protocol.md §8.4, crypto.attestation): the owner id, the
election, a fresh nonce, the expiry and the digests of the blinded messages the phone shows.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from ownervote.files import write_private

from crypto.attestation import Attestation, DemoIdentityProvider


def attestation_json(att: Attestation, signature: bytes) -> str:
    return json.dumps({"owner_id": att.owner_id, "election_id": att.election_id,
                       "nonce": att.nonce.hex(), "expires_at": att.expires_at,
                       "authorises": [d.hex() for d in att.authorises],
                       "signature": signature.hex()})


def attestation_from_json(text: str) -> tuple[Attestation, bytes]:
    d = json.loads(text)
    return (Attestation(d["owner_id"], d["election_id"], bytes.fromhex(d["nonce"]),
                        int(d["expires_at"]),
                        tuple(bytes.fromhex(x) for x in d.get("authorises", ()))),
            bytes.fromhex(d["signature"]))


def load_provider(path: Path) -> DemoIdentityProvider:
    return DemoIdentityProvider(Ed25519PrivateKey.from_private_bytes(
        bytes.fromhex(path.read_text().strip())), expiry_grid=600)


def _digest(text: str) -> bytes:
    try:
        digest = bytes.fromhex(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError("a blinded message's digest is 64 hex digits") from exc
    if len(digest) != 32:
        raise argparse.ArgumentTypeError("a blinded message's digest is 64 hex digits")
    return digest


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m clients.identity_provider",
                                description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    k = sub.add_parser("key")
    k.add_argument("--key-file", type=Path, required=True)
    a = sub.add_parser("attest")
    a.add_argument("--key-file", type=Path, required=True)
    a.add_argument("--owner", required=True)
    a.add_argument("--election", required=True)
    a.add_argument("--blinded-digest", type=_digest, action="append", default=[],
                   help="SHA-256 of a blinded message to authorise (hex; repeatable)")
    a.add_argument("--out", type=Path)
    args = p.parse_args(argv)
    if args.cmd == "key":
        try:  # made once: an existing key is kept
            write_private(args.key_file, Ed25519PrivateKey.generate().private_bytes_raw().hex(),
                          exclusive=True)
        except FileExistsError:
            pass
        print(load_provider(args.key_file).public_key.public_bytes_raw().hex())
        return 0
    text = attestation_json(*load_provider(args.key_file).attest_digests(
        args.owner, args.election, args.blinded_digest))
    if args.out:
        args.out.write_text(text)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
