"""A test CA and certificates made at run time (cryptography), in every form tenants upload;
and the real openstack CLI as a subprocess."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs7, pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

Key = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def new_key(kind: str = "ec") -> Key:
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


def pem_key(key: Key, passphrase: bytes | None = None) -> bytes:
    enc: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase)
        if passphrase
        else serialization.NoEncryption()
    )
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc)


def pem_cert(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@dataclass
class Issued:
    cert: x509.Certificate
    key: Key
    chain: list[x509.Certificate] = field(default_factory=list)

    @property
    def cert_pem(self) -> bytes:
        return pem_cert(self.cert)

    @property
    def key_pem(self) -> bytes:
        return pem_key(self.key)

    def bundle_pem(self) -> bytes:
        return self.cert_pem + b"".join(pem_cert(c) for c in self.chain) + self.key_pem

    def pkcs12(self, passphrase: bytes | None = None) -> bytes:
        enc: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(passphrase)
            if passphrase
            else serialization.NoEncryption()
        )
        return pkcs12.serialize_key_and_certificates(
            b"portus", self.key, self.cert, self.chain or None, enc
        )

    def pkcs7_pem(self) -> bytes:
        return pkcs7.serialize_certificates([self.cert, *self.chain], serialization.Encoding.PEM)


class CA:
    """A self-signed CA that issues server and client certificates and CRLs."""

    def __init__(self, name: str = "Portus Test CA") -> None:
        self.key = new_key("ec")
        self.name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = dt.datetime.now(dt.UTC)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(self.name)
            .issuer_name(self.name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True, content_commitment=False, key_encipherment=False,
                    data_encipherment=False, key_agreement=False, key_cert_sign=True,
                    crl_sign=True, encipher_only=False, decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), critical=False
            )
            .sign(self.key, hashes.SHA256())
        )  # fmt: skip

    @property
    def pem(self) -> bytes:
        return pem_cert(self.cert)

    def issue(
        self,
        common_name: str,
        dns: tuple[str, ...] = (),
        client: bool = False,
        kind: str = "ec",
        days: int = 10,
        expired: bool = False,
    ) -> Issued:
        key = new_key(kind)
        now = dt.datetime.now(dt.UTC)
        start = now - dt.timedelta(days=20 if expired else 1)
        end = now - dt.timedelta(days=1) if expired else now + dt.timedelta(days=days)
        usage = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
            .issuer_name(self.name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                critical=False,
            )
        )
        names = dns or (() if client else (common_name,))
        if names:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False
            )
        return Issued(builder.sign(self.key, hashes.SHA256()), key)

    def crl(self, revoked: list[x509.Certificate] = ()) -> bytes:  # type: ignore[assignment]
        now = dt.datetime.now(dt.UTC)
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.name)
            .last_update(now - dt.timedelta(minutes=5))
            .next_update(now + dt.timedelta(days=7))
        )
        for cert in revoked:
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder()
                .serial_number(cert.serial_number)
                .revocation_date(now - dt.timedelta(minutes=5))
                .build()
            )
        return builder.sign(self.key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def openstack(url: str, *args: str, json_out: bool = True) -> Any:
    """The real ``openstack`` CLI (noauth, ``--os-endpoint url``), JSON output parsed."""
    exe = Path(sys.executable).parent / "openstack"
    argv = [str(exe), "--os-auth-type", "none", "--os-endpoint", url, *args]
    if json_out:
        argv += ["-f", "json"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env, check=False)
    if proc.returncode != 0:
        raise CLIError(proc.stderr or proc.stdout)
    return json.loads(proc.stdout) if json_out and proc.stdout.strip() else proc.stdout


class CLIError(RuntimeError):
    pass
