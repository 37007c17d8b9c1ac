"""Cert-store settings come from Settings, and the reconciler's certificate cache."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from portus import config
from portus.db.secretstore import CachingReader, reader_for
from portus.drivers.barbican import BarbicanReader
from portus.drivers.secretbox import SecretBoxError, for_state_dir
from portus.ir.tls import CertFile
from portus.reconcile import tls_cache


def test_cert_backend_settings_from_env() -> None:
    key = Fernet.generate_key().decode()
    s = config.from_env(
        {
            "PORTUS_CERT_BACKEND": "Barbican",
            "PORTUS_BARBICAN_ENDPOINT": "http://127.0.0.1:9311/v1",
            "PORTUS_BARBICAN_TOKEN": "tok",
            "PORTUS_SECRET_KEY": key,
        }
    )
    assert (s.cert_backend, s.barbican_endpoint, s.barbican_token, s.secret_key) == (
        "barbican", "http://127.0.0.1:9311/v1", "tok", key,
    )  # fmt: skip
    default = config.from_env({})
    assert (default.cert_backend, default.barbican_endpoint, default.secret_key) == (
        "local", None, None,
    )  # fmt: skip


def test_reader_for_follows_settings(tmp_path: Path) -> None:
    s = config.from_env({}).with_(
        state_dir=tmp_path, cert_backend="barbican", barbican_endpoint="http://127.0.0.1:1/v1"
    )
    reader = reader_for(None, s, "p")  # type: ignore[arg-type]  # barbican needs no session
    assert isinstance(reader, CachingReader) and isinstance(reader.inner, BarbicanReader)
    assert reader.inner.endpoint == "http://127.0.0.1:1/v1"
    with pytest.raises(ValueError, match="barbican_endpoint"):
        reader_for(None, s.with_(barbican_endpoint=""), "p")  # type: ignore[arg-type]


def test_configured_secret_key_wins_over_the_key_file(tmp_path: Path) -> None:
    key_a, key_b = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    sealed = for_state_dir(tmp_path, key_a).encrypt(b"private key")
    assert not (tmp_path / "secret.key").exists()
    assert for_state_dir(tmp_path, f"{key_b},{key_a}").decrypt(sealed) == b"private key"
    with pytest.raises(SecretBoxError):
        for_state_dir(tmp_path, key_b).decrypt(sealed)
    with pytest.raises(SecretBoxError):
        for_state_dir(tmp_path).decrypt(sealed)  # the generated key file is another key


def test_cache_serves_only_the_refs_it_was_filled_with(tmp_path: Path) -> None:
    box = for_state_dir(tmp_path, Fernet.generate_key().decode())
    files = (CertFile("tls-a.pem", "server", "ref-a"), CertFile("p-ca.pem", "ca", "ref-ca"))
    texts = (("tls-a.pem", "CERT A"), ("p-ca.pem", "CA"))
    assert tls_cache.load(tmp_path, box, "lb-1", files) is None
    tls_cache.save(tmp_path, box, "lb-1", files, texts)
    assert b"CERT A" not in (tmp_path / "tls-cache" / "lb-1.fernet").read_bytes()
    assert tls_cache.load(tmp_path, box, "lb-1", files) == texts
    assert tls_cache.load(tmp_path, box, "lb-1", files[:1]) == texts[:1]
    # Same file name, another ref (the pool's CA was replaced): not in the cache.
    changed = (files[0], CertFile("p-ca.pem", "ca", "ref-new-ca"))
    assert tls_cache.load(tmp_path, box, "lb-1", changed) is None
    tls_cache.forget(tmp_path, "lb-1")
    assert tls_cache.load(tmp_path, box, "lb-1", files) is None
