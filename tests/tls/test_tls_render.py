"""TERMINATED_HTTPS and re-encryption rendered from real certificates, checked by haproxy -c."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from portus.drivers import certs
from portus.ir.desired import (
    AmphoraLayout,
    AmphoraSpec,
    ListenerSpec,
    LoadBalancerSpec,
    MemberSpec,
    PoolSpec,
)
from portus.ir.translate import translate
from portus.reconcile.errors import PermanentError, TemporaryError
from portus.reconcile.tls_files import files_for, material_for
from portus.render import render_amphora

from tls_certgen import CA


class DictReader:
    def __init__(self, secrets: dict[str, bytes]) -> None:
        self.secrets = secrets

    def secret(self, ref: str) -> bytes:
        if ref not in self.secrets:
            raise certs.CertRetrievalError(ref)
        return self.secrets[ref]

    def container(self, ref: str) -> dict[str, str]:
        raise certs.CertRetrievalError(ref)


def spec(**listener_fields: object) -> LoadBalancerSpec:
    fields: dict[str, object] = {
        "default_tls_container_ref": "ref-default",
        "sni_container_refs": ("ref-sni",),
        "client_authentication": "MANDATORY",
        "client_ca_tls_container_ref": "ref-ca",
        "client_crl_container_ref": "ref-crl",
        "tls_versions": ("TLSv1.2", "TLSv1.3"),
        "alpn_protocols": ("h2", "http/1.1"),
        "hsts_max_age": 3600,
        "hsts_include_subdomains": True,
        "insert_headers": (("X-SSL-Client-CN", "true"), ("X-SSL-Client-Verify", "true")),
        "default_pool_id": "pool-1",
    }
    fields.update(listener_fields)
    listener = ListenerSpec(id="lis-1", protocol="TERMINATED_HTTPS", protocol_port=443, **fields)  # type: ignore[arg-type]
    pool = PoolSpec(
        id="pool-1",
        protocol="HTTP",
        lb_algorithm="ROUND_ROBIN",
        members=(MemberSpec(id="m1", address="10.0.0.5", protocol_port=8443),),
        tls_enabled=True,
        tls_container_ref="ref-client",
        ca_tls_container_ref="ref-ca",
        crl_container_ref="ref-crl",
    )
    return LoadBalancerSpec(
        id="lb-1",
        project_id="p",
        vip_address="127.0.0.1",
        listeners=(listener,),
        pools=(pool,),
        amphorae=(AmphoraSpec(id="amp-1"),),
    )


@pytest.fixture(scope="module")
def reader() -> DictReader:
    ca = CA()
    return DictReader(
        {
            "ref-default": ca.issue("default.example.com").bundle_pem(),
            "ref-sni": ca.issue("sni.example.com").pkcs12(),
            "ref-client": ca.issue("portus-client", client=True).bundle_pem(),
            "ref-ca": ca.pem,
            "ref-crl": ca.crl(),
        }
    )


def test_render_ships_every_file_and_haproxy_accepts_it(reader: DictReader, tmp_path: Path) -> None:
    lb = spec()
    layout = AmphoraLayout.for_state_dir(str(tmp_path))
    ir = translate(lb, lb.amphorae[0], layout)
    cfg = render_amphora(ir).haproxy_cfg or ""
    files = dict(files_for(material_for(lb, reader), lb, layout))
    cert_dir = layout.cert_dir
    assert set(files) == {
        f"{cert_dir}/{name}"
        for name in (
            "lis-1.crtlist", "lis-1-client-ca.pem", "lis-1-client-crl.pem",
            "pool-1-client.pem", "pool-1-ca.pem", "pool-1-crl.pem",
        )
    } | {p for p in files if "/tls-" in p}  # fmt: skip
    crt_list = files[f"{cert_dir}/lis-1.crtlist"].splitlines()
    assert len(crt_list) == 2 and all(line in files for line in crt_list)
    assert "default.example.com" not in crt_list[0]  # paths are hashes of refs, not names
    bind = next(line for line in cfg.splitlines() if line.strip().startswith("bind"))
    for word in (
        f"ssl crt-list {cert_dir}/lis-1.crtlist",
        f"ca-file {cert_dir}/lis-1-client-ca.pem",
        "verify required",
        f"crl-file {cert_dir}/lis-1-client-crl.pem",
        "ssl-min-ver TLSv1.2",
        "ssl-max-ver TLSv1.3",
        "alpn h2,http/1.1",
    ):
        assert word in bind
    assert 'Strict-Transport-Security "max-age=3600; includeSubDomains;"' in cfg
    assert "http-request set-header X-SSL-Client-CN %{+Q}[ssl_c_s_dn(cn)]" in cfg
    server = next(line for line in cfg.splitlines() if line.strip().startswith("server m1"))
    assert "ssl verify required" in server and f"crt {cert_dir}/pool-1-client.pem" in server
    assert server.endswith(" sni ssl_fc_sni")  # the client's server name goes on to the member

    if shutil.which("haproxy") is None:
        pytest.skip("haproxy not installed")
    for path, text in files.items():
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(text)
    (tmp_path / "haproxy.state").write_text("1\n")
    (tmp_path / "haproxy.cfg").write_text(cfg)
    result = subprocess.run(
        ["haproxy", "-c", "-f", str(tmp_path / "haproxy.cfg")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_client_auth_levels_and_no_cert_listener() -> None:
    layout = AmphoraLayout.for_state_dir("/x")
    for auth, verify in (("NONE", "none"), ("OPTIONAL", "optional"), ("MANDATORY", "required")):
        lb = spec(client_authentication=auth)
        fe = translate(lb, lb.amphorae[0], layout).frontends[0]
        assert fe.tls is not None and fe.tls.verify == verify
    bare = spec(default_tls_container_ref=None, sni_container_refs=())
    ir = translate(bare, bare.amphorae[0], layout)
    assert ir.frontends == () and any("without a certificate" in n for n in ir.notes)


def test_sni_is_passed_on_only_from_a_tls_terminating_listener() -> None:
    """A plain HTTP listener has no client SNI: its re-encrypting servers send none."""
    layout = AmphoraLayout.for_state_dir("/x")
    for protocol, sni in (("TERMINATED_HTTPS", "ssl_fc_sni"), ("HTTP", None)):
        lb = spec()
        listener = replace(lb.listeners[0], protocol=protocol)
        lb = replace(lb, listeners=(listener,))
        backend = translate(lb, lb.amphorae[0], layout).backends[0]
        assert backend.servers[0].tls is not None and backend.servers[0].tls.sni == sni
        cfg = render_amphora(translate(lb, lb.amphorae[0], layout)).haproxy_cfg or ""
        assert ("sni ssl_fc_sni" in cfg) is (sni is not None)


def test_rotation_changes_files_and_crt_list(reader: DictReader) -> None:
    layout = AmphoraLayout.for_state_dir("/x")
    reader.secrets["ref-new"] = reader.secrets["ref-default"]
    before = dict(files_for(material_for(spec(), reader), spec(), layout))
    rotated = spec(default_tls_container_ref="ref-new")
    after = dict(files_for(material_for(rotated, reader), rotated, layout))
    assert before["/x/certs/lis-1.crtlist"] != after["/x/certs/lis-1.crtlist"]


def test_store_outage_is_temporary_and_bad_material_permanent(reader: DictReader) -> None:
    with pytest.raises(TemporaryError):
        material_for(spec(default_tls_container_ref="ref-missing"), reader)
    reader.secrets["ref-bad"] = b"-----BEGIN CERTIFICATE-----\nxx\n-----END CERTIFICATE-----\n"
    with pytest.raises(PermanentError):
        material_for(spec(default_tls_container_ref="ref-bad"), reader)
