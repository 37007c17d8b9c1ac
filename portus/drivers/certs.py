"""Certificates as tenants hand them over: PEM bundles, PKCS7 and PKCS12, parsed and checked.

Pure functions over bytes (plus ``now``), so the API can refuse a bad certificate with a clear
400 at request time and the reconciler can ship exactly the same parse to an amphora. Where the
bytes come from (Portus' own store or a Barbican) is behind ``SecretReader``; ``resolve_tls``
and ``resolve_pem`` turn a ref into checked material through any reader.

Refs follow Barbican: ``.../containers/<id>`` is a certificate container whose secrets are
named ``certificate``, ``private_key``, ``intermediates`` and ``private_key_passphrase``;
``.../secrets/<id>`` is one secret (a PKCS12 or PEM bundle for a server cert, a PEM CA or CRL).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Protocol

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import pkcs7, pkcs12

PrivateKey = (
    rsa.RSAPrivateKey
    | ec.EllipticCurvePrivateKey
    | dsa.DSAPrivateKey
    | ed25519.Ed25519PrivateKey
    | ed448.Ed448PrivateKey
)

_KEY_BLOCK = re.compile(
    rb"-----BEGIN ((?:ENCRYPTED |RSA |EC |DSA )?PRIVATE KEY)-----.+?-----END \1-----", re.S
)


class CertError(Exception):
    """Material that is unusable: malformed, mismatched, expired. ``str`` is the reason."""


class CertRetrievalError(Exception):
    """A ref that could not be read from the store (missing, another project's, store down)."""

    def __init__(self, ref: str, reason: str = "") -> None:
        super().__init__(reason or ref)
        self.ref = ref


class SecretReader(Protocol):
    """Where certificates live: Portus' own store, or a Barbican."""

    def secret(self, ref: str) -> bytes:
        """The payload of a secret; ``CertRetrievalError`` when it cannot be read."""
        ...

    def container(self, ref: str) -> dict[str, str]:
        """A container's secrets as name -> secret ref."""
        ...


@dataclass(frozen=True)
class TlsBundle:
    """A server (or client) certificate with its key and chain."""

    certificate: x509.Certificate
    private_key: PrivateKey | None
    intermediates: tuple[x509.Certificate, ...] = ()

    def combined_pem(self) -> str:
        """Certificate, chain, then unencrypted key: the single file HAProxy's ``crt`` reads."""
        parts = [self.certificate.public_bytes(serialization.Encoding.PEM)]
        parts += [c.public_bytes(serialization.Encoding.PEM) for c in self.intermediates]
        if self.private_key is not None:
            parts.append(
                self.private_key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            )
        return b"".join(parts).decode()

    def names(self) -> tuple[str, ...]:
        """The DNS names the certificate answers for (SAN, else CN), for SNI checks."""
        try:
            san = self.certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
            return tuple(san.value.get_values_for_type(x509.DNSName))
        except x509.ExtensionNotFound:
            cns = self.certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
            return tuple(str(a.value) for a in cns)


# -- parsing ------------------------------------------------------------------------------------
def _passphrase(value: bytes | str | None) -> bytes | None:
    if value is None or value in (b"", ""):
        return None
    return value.encode() if isinstance(value, str) else value


def load_certificates(data: bytes) -> list[x509.Certificate]:
    """Every certificate in PEM, DER, or PKCS7 (PEM or DER); ``CertError`` when none."""
    data = data.strip()
    if b"-----BEGIN PKCS7-----" in data:
        try:
            return list(pkcs7.load_pem_pkcs7_certificates(data))
        except ValueError as exc:
            raise CertError(f"Could not parse PKCS7 data: {exc}") from exc
    if b"-----BEGIN CERTIFICATE-----" in data:
        try:
            return list(x509.load_pem_x509_certificates(data))
        except ValueError as exc:
            raise CertError("Could not read X509 from PEM") from exc
    if not data:
        raise CertError("No certificate data")
    try:
        return [x509.load_der_x509_certificate(data)]
    except ValueError:
        pass
    try:
        return list(pkcs7.load_der_pkcs7_certificates(data))
    except ValueError as exc:
        raise CertError("Could not read X509 from PEM") from exc


def load_private_key(data: bytes, passphrase: bytes | str | None = None) -> PrivateKey:
    """The first private key of a PEM (or DER) blob, decrypted with ``passphrase``."""
    match = _KEY_BLOCK.search(data)
    password = _passphrase(passphrase)
    try:
        if match is not None:
            key = serialization.load_pem_private_key(match.group(0), password)
        else:
            key = serialization.load_der_private_key(data.strip(), password)
    except TypeError as exc:
        raise CertError("Private key is encrypted and no (or a superfluous) passphrase") from exc
    except ValueError as exc:
        raise CertError("Passphrase is wrong or the private key is malformed") from exc
    if not isinstance(
        key,
        rsa.RSAPrivateKey
        | ec.EllipticCurvePrivateKey
        | dsa.DSAPrivateKey
        | ed25519.Ed25519PrivateKey
        | ed448.Ed448PrivateKey,
    ):
        raise CertError("Unsupported private key type")
    return key


def _public_der(key: object) -> bytes:
    public = key.public_key()  # type: ignore[attr-defined]
    der: bytes = public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return der


def key_matches(cert: x509.Certificate, key: PrivateKey) -> bool:
    return _public_der(cert) == _public_der(key)


def _pick(certs: list[x509.Certificate], key: PrivateKey | None) -> TlsBundle:
    """The certificate matching ``key`` (or the first one) plus the rest as chain."""
    if not certs:
        raise CertError("No certificate found")
    main = certs[0]
    if key is not None:
        matching = [c for c in certs if key_matches(c, key)]
        if not matching:
            raise CertError("Key and x509 certificate do not match")
        main = matching[0]
    rest = tuple(c for c in certs if c is not main)
    return TlsBundle(main, key, rest)


def parse_pkcs12(data: bytes, passphrase: bytes | str | None = None) -> TlsBundle:
    try:
        key, cert, extra = pkcs12.load_key_and_certificates(data, _passphrase(passphrase))
    except ValueError as exc:
        raise CertError("Could not read PKCS12 bundle (wrong passphrase or malformed)") from exc
    if cert is None:
        raise CertError("PKCS12 bundle holds no certificate")
    if key is not None and not isinstance(
        key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | dsa.DSAPrivateKey
    ):
        raise CertError("Unsupported private key type in PKCS12 bundle")
    if key is not None and not key_matches(cert, key):
        raise CertError("Key and x509 certificate do not match")
    return TlsBundle(cert, key, tuple(extra))


def parse_bundle(data: bytes, passphrase: bytes | str | None = None) -> TlsBundle:
    """A certificate (with key and chain when present) from PEM, PKCS7 or PKCS12."""
    if b"-----BEGIN" not in data:
        try:
            return parse_pkcs12(data, passphrase)
        except CertError as p12_error:
            try:
                return _pick(load_certificates(data), None)
            except CertError:
                raise p12_error from None
    certs = load_certificates(data)
    key = load_private_key(data, passphrase) if _KEY_BLOCK.search(data) else None
    return _pick(certs, key)


def parse_parts(
    certificate: bytes,
    private_key: bytes | None,
    intermediates: bytes | None = None,
    passphrase: bytes | str | None = None,
) -> TlsBundle:
    """A Barbican certificate container's parts (the certificate may itself be a bundle)."""
    if private_key is None and b"-----BEGIN" not in certificate:
        return parse_pkcs12(certificate, passphrase)
    certs = load_certificates(certificate)
    key = load_private_key(private_key, passphrase) if private_key else None
    if key is None and _KEY_BLOCK.search(certificate):
        key = load_private_key(certificate, passphrase)
    bundle = _pick(certs, key)
    if intermediates:
        chain = tuple(load_certificates(intermediates))
        bundle = TlsBundle(bundle.certificate, bundle.private_key, bundle.intermediates + chain)
    return bundle


# -- checks -----------------------------------------------------------------------------------
def check_validity(cert: x509.Certificate, now: dt.datetime) -> None:
    if cert.not_valid_after_utc < now:
        raise CertError(f"Certificate expired on {cert.not_valid_after_utc.isoformat()}")
    if cert.not_valid_before_utc > now:
        raise CertError(f"Certificate is not valid before {cert.not_valid_before_utc.isoformat()}")


def check_server_bundle(bundle: TlsBundle, now: dt.datetime) -> None:
    """A certificate HAProxy can serve: has its key, and is valid right now."""
    if bundle.private_key is None:
        raise CertError("Certificate has no private key")
    check_validity(bundle.certificate, now)


def load_ca(data: bytes) -> list[x509.Certificate]:
    """CA certificates for verifying peers: PEM X509 only (as Octavia requires)."""
    if b"-----BEGIN CERTIFICATE-----" not in data:
        raise CertError("The CA certificate must be PEM encoded X509")
    return load_certificates(data)


def load_crl(data: bytes, ca_pem: bytes) -> x509.CertificateRevocationList:
    """A PEM CRL that one of the CA certificates signed."""
    try:
        crl = x509.load_pem_x509_crl(data.strip())
    except ValueError as exc:
        raise CertError("The CRL must be a PEM encoded X509 CRL") from exc
    for ca in load_ca(ca_pem):
        try:
            if crl.is_signature_valid(ca.public_key()):  # type: ignore[arg-type]
                return crl
        except TypeError:
            continue
    raise CertError("The CRL is not signed by the client CA")


def pem_of(certs: list[x509.Certificate]) -> str:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs).decode()


def crl_pem(crl: x509.CertificateRevocationList) -> str:
    return crl.public_bytes(serialization.Encoding.PEM).decode()


# -- refs through a reader --------------------------------------------------------------------
def is_container_ref(ref: str) -> bool:
    return "/containers/" in ref or ref.startswith("containers/")


def _read(reader: SecretReader, ref: str) -> bytes:
    try:
        return reader.secret(ref)
    except CertRetrievalError:
        raise
    except Exception as exc:  # a store's transport error is still "could not retrieve"
        raise CertRetrievalError(ref, str(exc)) from exc


def resolve_tls(reader: SecretReader, ref: str) -> TlsBundle:
    """A certificate (+key, chain) from a container ref or a bundle secret ref."""
    if not is_container_ref(ref):
        return parse_bundle(_read(reader, ref))
    try:
        parts = reader.container(ref)
    except CertRetrievalError:
        raise
    except Exception as exc:
        raise CertRetrievalError(ref, str(exc)) from exc
    if "certificate" not in parts:
        raise CertError("Certificate container has no 'certificate' secret")

    def part(name: str) -> bytes | None:
        return _read(reader, parts[name]) if name in parts else None

    cert = part("certificate") or b""
    return parse_parts(
        cert, part("private_key"), part("intermediates"), part("private_key_passphrase")
    )


def resolve_pem(reader: SecretReader, ref: str) -> bytes:
    """A CA or CRL: a secret's payload, or a container's ``certificate`` secret."""
    if not is_container_ref(ref):
        return _read(reader, ref)
    try:
        parts = reader.container(ref)
    except CertRetrievalError:
        raise
    except Exception as exc:
        raise CertRetrievalError(ref, str(exc)) from exc
    name = next((n for n in ("certificate", "crl") if n in parts), None)
    if name is None:
        raise CertError("Container holds no certificate")
    return _read(reader, parts[name])
