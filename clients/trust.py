"""The trust bundle, made as a deployment makes its keys: ``python -m clients.trust COMMAND``.

    make --origin ORIGIN --log-key VKEY --witness VKEY [--witness VKEY ...] --quorum K
         --identity-provider HEX [--registrar NAME=HEX ...] [--development] --out FILE
        Write the deployment's trust bundle (crypto/log/trust.py) and print its fingerprint,
        the short code a community posts on its notice board (or shows as a QR code). The
        quorum must be a strict majority of the witnesses unless --development. Each
        --registrar pins one registrar of the consortium by its Ed25519 key
        (``python -m server.registrar key`` prints it).
    add-guardians FILE --election ID --guardian INDEX:FINGERPRINT [--guardian ...]
        Pin an election's guardians (each guardian's CLI prints its fingerprint:
        ``python -m clients.guardian ... fingerprint``) and print the new fingerprint.
    show FILE
        Print the bundle and its fingerprint.

Every client (the voter, guardian, administrator and auditor CLIs, the SDK) takes ``--trust
FILE`` and trusts nothing else: not the server it talks to.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from crypto.errors import DecodeError
from crypto.log.trust import TrustBundle, decode_bundle, make_bundle


class NoTrust(Exception):
    """No usable trust bundle: the one line a CLI prints before it exits 2."""


def add_trust_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--trust", type=Path, metavar="FILE",
                   help="the deployment's trust bundle (required; python -m clients.trust): "
                        "the log's key, the witnesses' keys and the quorum this client pins")


def read_bundle(path: Path | None) -> TrustBundle:
    """The bundle in ``path``; NoTrust naming what is wrong (no --trust, no file, not a bundle)."""
    if path is None:
        raise NoTrust("--trust FILE is required: the trust bundle pins the log's key, the "
                      "witnesses' keys and the quorum (they are never taken from the server)")
    try:
        return decode_bundle(Path(path).read_bytes())
    except OSError as exc:
        raise NoTrust(f"cannot read the trust bundle {path}: {exc.strerror or exc}") from exc
    except DecodeError as exc:
        raise NoTrust(f"{path} is not a trust bundle: {exc}") from exc


def _describe(bundle: TrustBundle) -> str:
    lines = [f"fingerprint {bundle.fingerprint()}",
             f"log {bundle.origin}; {len(bundle.witnesses)} witnesses, quorum {bundle.quorum}"
             + (" (DEVELOPMENT: not a majority)" if bundle.development else "")]
    if bundle.registrars:
        lines.append(f"registrars: {', '.join(bundle.registrars)}")
    elections = sorted({s for s, _ in bundle.guardians})
    lines += [f"election {e}: guardians {sorted(bundle.guardian_fingerprints(e))} pinned"
              for e in elections]
    return "\n".join(lines)


def _guardian(text: str) -> tuple[int, bytes]:
    index, sep, fp = text.partition(":")
    try:
        value = (int(index), bytes.fromhex(fp))
    except ValueError:
        value = None
    if not sep or value is None or len(value[1]) != 32:
        raise argparse.ArgumentTypeError("INDEX:FINGERPRINT (64 hex digits)")
    return value


def _registrar(text: str) -> tuple[str, bytes]:
    name, sep, key = text.partition("=")
    try:
        value = (name, bytes.fromhex(key))
    except ValueError:
        value = None
    if not sep or not name or value is None or len(value[1]) != 32:
        raise argparse.ArgumentTypeError("NAME=KEY (the registrar's key, 64 hex digits)")
    return value


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m clients.trust",
                                description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n", 2)[2])
    sub = p.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make")
    m.add_argument("--origin", required=True)
    m.add_argument("--log-key", required=True)
    m.add_argument("--witness", action="append", default=[])
    m.add_argument("--quorum", type=int, required=True)
    m.add_argument("--identity-provider", required=True, help="Ed25519 public key, 64 hex")
    m.add_argument("--registrar", type=_registrar, action="append", default=[],
                   metavar="NAME=HEX", help="a registrar of the consortium (repeatable)")
    m.add_argument("--development", action="store_true")
    m.add_argument("--out", type=Path, required=True)
    a = sub.add_parser("add-guardians")
    a.add_argument("file", type=Path)
    a.add_argument("--election", required=True)
    a.add_argument("--guardian", type=_guardian, action="append", required=True)
    s = sub.add_parser("show")
    s.add_argument("file", type=Path)
    args = p.parse_args(argv)
    try:
        if args.cmd == "make":
            bundle = make_bundle(args.origin, args.log_key, args.witness, args.quorum,
                                 bytes.fromhex(args.identity_provider),
                                 development=args.development,
                                 registrars=dict(args.registrar))
            args.out.write_bytes(bundle.encode())  # public: anyone may read it
        elif args.cmd == "add-guardians":
            bundle = read_bundle(args.file).with_guardians(args.election, dict(args.guardian))
            args.file.write_bytes(bundle.encode())
        else:
            bundle = read_bundle(args.file)
    except (ValueError, OSError, NoTrust) as exc:  # a key, a quorum or a file that is not right
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(_describe(bundle))
    return 0


if __name__ == "__main__":
    sys.exit(main())
