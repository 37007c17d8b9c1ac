"""Golden files: every case renders exactly its checked-in output, and that output is valid
for the real tools (``haproxy -c``, ``nft -c`` in a private netns, ``keepalived -t``)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from render_cases import CASES, GOLDEN_STATE_DIR, LAYOUT, build

from portus.ir.translate import translate
from portus.render import render_amphora

GOLDEN = Path(__file__).parent / "golden"
NAMES = sorted(CASES)


def rendered(name: str) -> dict[str, str]:
    lb, amp = build(name)
    files = render_amphora(translate(lb, amp, LAYOUT))
    out = {"haproxy.cfg": files.haproxy_cfg, "nft": files.nftables}
    if files.keepalived_conf is not None:
        out["keepalived.conf"] = files.keepalived_conf
    return out


def golden_text(name: str, suffix: str) -> str:
    path = GOLDEN / f"{name}.{suffix}"
    if not path.exists():
        pytest.fail(f"missing golden file {path}; run pytest tests/render --regen-golden")
    return path.read_text()


def localised(text: str, tmp_path: Path) -> str:
    """Point the golden's state paths at a private tmp dir."""
    return text.replace(GOLDEN_STATE_DIR, str(tmp_path))


def test_enough_cases() -> None:
    assert len(CASES) >= 40


@pytest.mark.parametrize("name", NAMES)
def test_matches_golden(name: str, regen_golden: bool) -> None:
    files = rendered(name)
    if regen_golden:
        for old in GOLDEN.glob(f"{name}.*"):
            old.unlink()
        for suffix, text in files.items():
            (GOLDEN / f"{name}.{suffix}").write_text(text)
    present = {p.name[len(name) + 1 :] for p in GOLDEN.glob(f"{name}.*")}
    assert present == set(files), "golden files differ in kind from the render"
    for suffix, text in files.items():
        assert text == golden_text(name, suffix), f"{name}.{suffix} differs from golden"


@pytest.mark.parametrize("name", NAMES)
def test_same_ir_same_bytes(name: str) -> None:
    assert rendered(name) == rendered(name)


@pytest.mark.dataplane
@pytest.mark.parametrize("name", NAMES)
def test_golden_haproxy_cfg_is_valid(name: str, tmp_path: Path) -> None:
    if shutil.which("haproxy") is None:
        pytest.skip("haproxy not installed")
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(localised(golden_text(name, "haproxy.cfg"), tmp_path))
    (tmp_path / "haproxy.state").write_text("1\n")  # an empty v1 state file
    result = subprocess.run(
        ["haproxy", "-c", "-f", str(cfg)], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[WARNING]" not in result.stdout + result.stderr, result.stdout + result.stderr


@pytest.mark.dataplane
@pytest.mark.parametrize("name", NAMES)
def test_golden_nft_is_valid(name: str, portus_netns: str, tmp_path: Path) -> None:
    path = tmp_path / "ruleset.nft"
    path.write_text(golden_text(name, "nft"))
    result = subprocess.run(
        ["ip", "netns", "exec", portus_netns, "nft", "-c", "-f", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr


KEEPALIVED_CASES = [n for n in NAMES if (GOLDEN / f"{n}.keepalived.conf").exists()]


@pytest.mark.dataplane
@pytest.mark.parametrize("name", KEEPALIVED_CASES)
def test_golden_keepalived_conf_is_valid(
    name: str, portus_netns_with_vip_link: str, tmp_path: Path
) -> None:
    if shutil.which("keepalived") is None:
        pytest.skip("keepalived not installed")
    conf = tmp_path / "keepalived.conf"
    conf.write_text(localised(golden_text(name, "keepalived.conf"), tmp_path))
    lb, amp = build(name)
    for path, text in render_amphora(translate(lb, amp, LAYOUT)).scripts:
        script = Path(localised(path, tmp_path))
        script.write_text(localised(text, tmp_path))
        script.chmod(0o755)  # as the agent installs it: root-owned, not group/world writable
    result = subprocess.run(
        ["ip", "netns", "exec", portus_netns_with_vip_link, "keepalived", "-t", "-f", str(conf)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stdout + result.stderr
