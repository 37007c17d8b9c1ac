"""Parsing and checking what tenants upload: the rules that turn into 400s at the API."""

from __future__ import annotations

import datetime as dt

import pytest

from portus.drivers import certs

from tls_certgen import CA

NOW = dt.datetime.now(dt.UTC)


@pytest.fixture(scope="module")
def ca() -> CA:
    return CA()


def test_pem_bundle_with_chain_and_key_in_any_order(ca: CA) -> None:
    leaf = ca.issue("www.example.com")
    leaf.chain = [ca.cert]
    data = leaf.key_pem + ca.pem + leaf.cert_pem
    bundle = certs.parse_bundle(data)
    assert bundle.certificate == leaf.cert
    assert bundle.intermediates == (ca.cert,)
    assert bundle.names() == ("www.example.com",)
    combined = bundle.combined_pem()
    assert combined.index("BEGIN CERTIFICATE") < combined.index("BEGIN PRIVATE KEY")
    certs.check_server_bundle(bundle, NOW)


@pytest.mark.parametrize("passphrase", [None, b"s3cret"])
def test_pkcs12_with_and_without_passphrase(ca: CA, passphrase: bytes | None) -> None:
    leaf = ca.issue("p12.example.com", kind="rsa")
    leaf.chain = [ca.cert]
    bundle = certs.parse_bundle(leaf.pkcs12(passphrase), passphrase)
    assert bundle.certificate == leaf.cert
    assert bundle.intermediates == (ca.cert,)
    assert bundle.private_key is not None


def test_pkcs12_wrong_passphrase_is_refused(ca: CA) -> None:
    with pytest.raises(certs.CertError, match="passphrase"):
        certs.parse_bundle(ca.issue("x").pkcs12(b"right"), b"wrong")


def test_container_parts_with_pkcs7_intermediates_and_encrypted_key(ca: CA) -> None:
    from tls_certgen import pem_key

    leaf = ca.issue("c.example.com")
    intermediates = certs.pem_of([ca.cert]).encode()
    bundle = certs.parse_parts(
        leaf.cert_pem, pem_key(leaf.key, b"pw"), intermediates, passphrase=b"pw"
    )
    assert bundle.certificate == leaf.cert
    assert bundle.intermediates == (ca.cert,)
    p7 = certs.parse_parts(leaf.pkcs7_pem(), leaf.key_pem)
    assert p7.certificate == leaf.cert


def test_mismatched_key_is_refused(ca: CA) -> None:
    a, b = ca.issue("a"), ca.issue("b")
    with pytest.raises(certs.CertError, match="do not match"):
        certs.parse_parts(a.cert_pem, b.key_pem)


def test_expired_certificate_is_refused(ca: CA) -> None:
    old = ca.issue("old.example.com", expired=True)
    with pytest.raises(certs.CertError, match="expired"):
        certs.check_server_bundle(certs.parse_bundle(old.bundle_pem()), NOW)


def test_malformed_data_is_refused() -> None:
    with pytest.raises(certs.CertError):
        certs.parse_bundle(b"-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----")
    with pytest.raises(certs.CertError):
        certs.parse_bundle(b"garbage")


def test_crl_must_be_signed_by_the_ca(ca: CA) -> None:
    other = CA("Other CA")
    crl = ca.crl([ca.issue("c", client=True).cert])
    assert certs.load_crl(crl, ca.pem) is not None
    with pytest.raises(certs.CertError, match="not signed"):
        certs.load_crl(crl, other.pem)
    with pytest.raises(certs.CertError, match="PEM"):
        certs.load_ca(b"\x30\x82garbage")


class DictReader:
    def __init__(self, secrets: dict[str, bytes], containers: dict[str, dict[str, str]]):
        self.secrets, self.containers = secrets, containers

    def secret(self, ref: str) -> bytes:
        if ref not in self.secrets:
            raise certs.CertRetrievalError(ref)
        return self.secrets[ref]

    def container(self, ref: str) -> dict[str, str]:
        if ref not in self.containers:
            raise certs.CertRetrievalError(ref)
        return self.containers[ref]


def test_resolve_container_and_secret_refs(ca: CA) -> None:
    leaf = ca.issue("r.example.com")
    reader = DictReader(
        {"http://x/v1/secrets/c": leaf.cert_pem, "http://x/v1/secrets/k": leaf.key_pem,
         "http://x/v1/secrets/p12": leaf.pkcs12()},
        {"http://x/v1/containers/1": {"certificate": "http://x/v1/secrets/c",
                                       "private_key": "http://x/v1/secrets/k"}},
    )  # fmt: skip
    assert certs.resolve_tls(reader, "http://x/v1/containers/1").certificate == leaf.cert
    assert certs.resolve_tls(reader, "http://x/v1/secrets/p12").certificate == leaf.cert
    with pytest.raises(certs.CertRetrievalError):
        certs.resolve_tls(reader, "http://x/v1/containers/missing")
