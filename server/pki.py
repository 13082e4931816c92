"""A small development certificate authority for the demo and the tests.

Production deployments use the consortium's own PKI; this creates a CA and certificates for
``localhost`` / ``127.0.0.1`` with the ``cryptography`` package, written as PEM files: the CA as
``ca.pem`` (and its key ``ca.key``, 0600, so that :meth:`DevCA.open` can issue more later), each
certificate and key as :func:`cert_files` names them. The common names say who holds them
(server/tls.py): ``server``, ``admin``, ``<election>/guardian-<i>``, and ``registrar:<name>``
for a registrar (:meth:`DevCA.issue_registrar`: one certificate for both its TLS port, where
phones call it, and its calls to the server's mutual-TLS port).
"""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from ownervote.files import write_private

from .tls import REGISTRAR_PREFIX, registrar_cn


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ownervote dev"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _write_key(path: Path, key) -> None:
    write_private(path, key.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))


def cert_files(directory: Path, cn: str) -> tuple[Path, Path]:
    """Where the development CA in ``directory`` keeps ``cn``'s certificate and key (``/`` in a
    name becomes ``_``)."""
    safe = cn.replace("/", "_")
    return directory / f"{safe}.pem", directory / f"{safe}.key"


class DevCA:
    def __init__(self, directory: Path, name: str = "ownervote dev CA") -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.key = ec.generate_private_key(ec.SECP256R1())
        _write_key(self.dir / "ca.key", self.key)
        now = datetime.datetime.now(datetime.UTC)
        self.cert = (x509.CertificateBuilder().subject_name(_name(name)).issuer_name(_name(name))
                     .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                     .not_valid_before(now - datetime.timedelta(minutes=5))
                     .not_valid_after(now + datetime.timedelta(days=30))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                     .add_extension(x509.KeyUsage(False, False, False, False, False, True, True,
                                                  False, False), critical=True)
                     .sign(self.key, hashes.SHA256()))
        self.ca_path = self.dir / "ca.pem"
        self.ca_path.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))

    @classmethod
    def open(cls, directory: Path) -> DevCA:
        """The development CA already in ``directory`` (its ``ca.pem`` and ``ca.key``)."""
        ca = cls.__new__(cls)
        ca.dir = directory
        ca.ca_path = directory / "ca.pem"
        ca.cert = x509.load_pem_x509_certificate(ca.ca_path.read_bytes())
        ca.key = serialization.load_pem_private_key((directory / "ca.key").read_bytes(), None)
        return ca

    def issue(self, cn: str, *, server: bool = True, client: bool = True) -> tuple[Path, Path]:
        """A certificate for ``cn`` valid for localhost / 127.0.0.1; returns (cert, key) paths."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        usages = ([ExtendedKeyUsageOID.SERVER_AUTH] if server else []) + \
                 ([ExtendedKeyUsageOID.CLIENT_AUTH] if client else [])
        cert = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(self.cert.subject)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5))
                .not_valid_after(now + datetime.timedelta(days=30))
                .add_extension(x509.SubjectAlternativeName([
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
                .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
                .sign(self.key, hashes.SHA256()))
        cert_path, key_path = cert_files(self.dir, cn)
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        _write_key(key_path, key)
        return cert_path, key_path

    def issue_registrar(self, name: str) -> tuple[Path, Path]:
        """Registrar ``name``'s certificate (CN ``registrar:<name>``, server and client
        authentication): it serves TLS to phones with it and presents it to the server's
        mutual-TLS port, where server.tls.require_registrar reads the name back."""
        return self.issue(registrar_cn(name), server=True, client=True)


def main(argv: list[str] | None = None) -> None:
    """``python -m server.pki [--add] DIR CN [CN ...]``: a fresh dev CA in DIR (ca.pem, ca.key),
    or with --add the one already there, and a certificate and key per common name (``/`` in a
    name becomes ``_`` in its file names; a registrar's name is ``registrar:NAME``)."""
    import argparse
    p = argparse.ArgumentParser(prog="python -m server.pki", description=main.__doc__)
    p.add_argument("--add", action="store_true", help="issue from the CA already in DIR")
    p.add_argument("dir", type=Path)
    p.add_argument("cn", nargs="+")
    args = p.parse_args(argv)
    for cn in args.cn:
        if cn.startswith(REGISTRAR_PREFIX):
            registrar_cn(cn[len(REGISTRAR_PREFIX):])  # a valid registrar name, or exit
    ca = DevCA.open(args.dir) if args.add else DevCA(args.dir)
    for cn in args.cn:
        cert, key = ca.issue(cn)
        print(f"{cn}: {cert} {key}")


if __name__ == "__main__":
    main()
