"""A development certificate authority and the certificates `dcrm node init --tls` writes.

For trying TLS and mutual TLS on one machine, not for production (where an organisation's own CA issues
the node and client certificates): one CA (`ca.crt`, `ca.key`), a server certificate per node for
127.0.0.1, ::1 and localhost (plus any extra names), and a client certificate for the operator and
applications. Keys are ECDSA P-256; private key files are written with mode 0600 and never overwritten.
"""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from dcrm.client.keys import write_private_file

__all__ = ["LOCAL_NAMES", "CertificateAuthority", "IssuedFiles"]

LOCAL_NAMES = ("127.0.0.1", "::1", "localhost")
CA_DAYS = 3650
LEAF_DAYS = 825
_BACKDATE = datetime.timedelta(minutes=5)  # tolerate small clock differences between hosts


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "dcrm development"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    encoding, private_format = serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8
    return key.private_bytes(encoding, private_format, serialization.NoEncryption())


def _cert_pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def _san(names: Sequence[str]) -> x509.SubjectAlternativeName:
    entries: list[x509.GeneralName] = []
    for name in names:
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            entries.append(x509.DNSName(name))
    return x509.SubjectAlternativeName(entries)


@dataclass(frozen=True)
class IssuedFiles:
    certificate: Path
    key: Path


class CertificateAuthority:
    """A self-signed CA that issues server and client certificates."""

    def __init__(self, key: ec.EllipticCurvePrivateKey, certificate: x509.Certificate) -> None:
        self.key = key
        self.certificate = certificate

    @classmethod
    def create(cls, common_name: str = "dcrm development CA") -> CertificateAuthority:
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name))
            .issuer_name(_name(common_name))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _BACKDATE)
            .not_valid_after(now + datetime.timedelta(days=CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        return cls(key, certificate)

    def write(self, certificate_path: Path, key_path: Path) -> IssuedFiles:
        """Write the CA certificate and (mode 0600) its key. Raises KeyFileError when the key file exists."""
        write_private_file(key_path, _key_pem(self.key))
        certificate_path.write_bytes(_cert_pem(self.certificate))
        return IssuedFiles(certificate_path, key_path)

    def _issue(
        self, common_name: str, usage: x509.ObjectIdentifier, names: Sequence[str]
    ) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name))
            .issuer_name(self.certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _BACKDATE)
            .not_valid_after(now + datetime.timedelta(days=LEAF_DAYS))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False)
        )
        if names:
            builder = builder.add_extension(_san(names), critical=False)
        return key, builder.sign(self.key, hashes.SHA256())

    def issue_server(
        self, common_name: str, certificate_path: Path, key_path: Path, names: Sequence[str] = LOCAL_NAMES
    ) -> IssuedFiles:
        """A server certificate for `names` (IP addresses or DNS names)."""
        key, certificate = self._issue(common_name, ExtendedKeyUsageOID.SERVER_AUTH, names)
        write_private_file(key_path, _key_pem(key))
        certificate_path.write_bytes(_cert_pem(certificate))
        return IssuedFiles(certificate_path, key_path)

    def issue_client(self, common_name: str, certificate_path: Path, key_path: Path) -> IssuedFiles:
        """A client certificate (for mutual TLS) named `common_name`."""
        key, certificate = self._issue(common_name, ExtendedKeyUsageOID.CLIENT_AUTH, ())
        write_private_file(key_path, _key_pem(key))
        certificate_path.write_bytes(_cert_pem(certificate))
        return IssuedFiles(certificate_path, key_path)
