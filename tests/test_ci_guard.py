"""The CI guard turns skips into failures; outside CI a skip stays a skip."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run_skipping_test(tmp_path: Path, ci: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "conftest.py").write_text((ROOT / "tests" / "conftest.py").read_text())
    (tmp_path / "test_x.py").write_text("import pytest\n\ndef test_x():\n    pytest.skip('no server')\n")
    env = {"PATH": "/usr/bin:/bin", "CI": ci}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120,
    )


def test_skip_fails_in_ci(tmp_path: Path) -> None:
    r = _run_skipping_test(tmp_path, "true")
    assert r.returncode == 1, r.stdout
    assert "skipped in CI" in r.stdout and "no server" in r.stdout


def test_skip_is_a_skip_outside_ci(tmp_path: Path) -> None:
    r = _run_skipping_test(tmp_path, "")
    assert r.returncode == 0, r.stdout
    assert "1 skipped" in r.stdout
