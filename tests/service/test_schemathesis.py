"""schemathesis against the live OpenAPI spec, with a valid admin token, every phase including
the stateful one (links: report → get / events / transitions, If-Match from the ETag):
0 server errors, 0 schema violations, 0 undocumented statuses.

Runs schemathesis' own CLI (4.x) as a subprocess, the way CI would. Two expectations are
configured: a missing required ``If-Match`` is answered 428 (RFC 6585), and schema-valid
requests may meet the engine's business rules — 412 (stale version) and 422 (e.g. merging
into a case that does not exist) — besides the defaults.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from .helpers import Server

CONFIG = """
[checks.missing_required_header]
expected-statuses = ["400", "401", "403", "406", "415", "422", "428"]
[checks.positive_data_acceptance]
expected-statuses = ["2xx", "3xx", "401", "403", "404", "409", "412", "422", "429"]
"""


#: The admin token's scope is district D: the test narrows the reports it generates to that
#: district (the server's spec stays as it is), so stateful runs create cases and follow links.
HOOKS = """
import schemathesis


@schemathesis.hook
def before_load_schema(context, raw_schema):
    report = raw_schema["components"]["schemas"]["ReportIn"]["properties"]
    report["district"] = {"type": "string", "enum": ["D"]}
"""


@pytest.mark.slow
def test_schemathesis_all_phases_no_failures(any_server: Server, tmp_path: Path) -> None:
    cfg = tmp_path / "schemathesis.toml"
    cfg.write_text(CONFIG)
    st = Path(sys.executable).with_name("st")
    (tmp_path / "st_hooks.py").write_text(HOOKS)
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env.update(SCHEMATHESIS_HOOKS="st_hooks", PYTHONPATH=str(tmp_path))
    cmd = [
        str(st), "--config-file", str(cfg), "run", f"{any_server.url}/openapi.json",
        "-H", f"Authorization: Bearer {any_server.tokens['admin']}",
        "--checks", "all", "--max-examples", "25", "--workers", "2", "--seed", "20261125",
        "--generation-database", "none", "--request-timeout", "20",
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path)
    text = out.stdout + out.stderr
    assert "Runtime Error" not in text, text[-6000:]
    assert out.returncode == 0, text[-6000:]
    spec = httpx.get(f"{any_server.url}/openapi.json", timeout=30, trust_env=False).json()
    operations = sum(len(item) for item in spec["paths"].values())  # every operation the spec has
    assert "Stateful" in text and f"Selected: {operations}/{operations}" in text, text[-3000:]
    covered = re.search(r"API Links:\s+(\d+) covered", text)
    assert covered is not None and int(covered.group(1)) > 0, "the stateful phase followed no link"
