"""Every subcommand × each class of bad input: one line naming the option, the right exit code,
no traceback, nothing written.

Classes: wrong type, out of range, missing file, existing non-directory (or a directory where
a file goes), busy port, unreachable database. Bad input exits 2; a resource that cannot be
used now (busy port, unreachable PostgreSQL) exits 1. Runs in-process through
:func:`twin.cli.run_cli`, the function behind the ``twin`` entry point, in an empty working
directory that must stay empty.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from twin.cli import run_cli

#: A PostgreSQL URL whose server refuses at once (nothing listens on port 1).
NO_PG = "postgresql://gridtwin:secret@127.0.0.1:1/gridtwin"

# (argv, exit code, text the one line must contain). FILE is an existing file, DIR an
# existing directory, BUSY a port something listens on, MISSING a directory that does not exist.
CASES: list[tuple[list[str], int, str]] = [
    # twin run
    (["run", "--seed", "-5"], 2, "Invalid value for '--seed': Input should be greater than or equal to 0; got -5"),
    (["run", "--days", "abc"], 2, "'--days': Input should be a valid number, unable to parse string as a number; got abc"),
    (["run", "--days", "2"], 2, "--days 2: expected more than run.warmup_days = 3"),
    (["run", "--days", "3"], 2, "--days 3: expected more than run.warmup_days = 3"),
    (["run", "--days", "0"], 2, "Invalid value for '--days': Input should be greater than or equal to 0.01; got 0"),
    (["run", "--out", "FILE"], 2, "--out FILE: expected a directory (new or existing), got an existing file"),
    (["run", "--out", "FILE/sub"], 2, "--out FILE/sub: expected a path under a directory, but FILE is an existing file"),
    (["run", "MISSING/nope.toml"], 2, "MISSING/nope.toml: (file): expected an existing scenario file, got no such file"),
    (["run", "--set", "run.seed=-5"], 2, "run.seed"),
    (["run", "--frobnicate"], 2, "No such option: --frobnicate"),
    # twin stream
    (["stream"], 2, "Missing option '--out'"),
    (["stream", "--out", "DIR"], 2, "--out DIR: expected a file path, got an existing directory"),
    (["stream", "--out", "x.jsonl", "--seed", "-1"], 2, "'--seed': Input should be greater than or equal to 0; got -1"),
    # twin sweep / compare
    (["sweep", "--vary", "staffing.households_per_worker=300,400", "--days", "0"], 2,
     "Invalid value for '--days': Input should be greater than or equal to 0.01; got 0"),
    (["sweep", "--vary", "staffing.households_per_worker=300,400", "--days", "2"], 2,
     "--days 2: expected more than run.warmup_days = 3"),
    (["sweep", "--vary", "staffing.households_per_worker=300,400", "--out", "FILE"], 2,
     "--out FILE: expected a directory (new or existing), got an existing file"),
    (["sweep", "--vary", "staffing.households_per_worker=300,400", "--reps", "zero"], 2, "'--reps'"),
    (["compare", "MISSING/a.toml", "MISSING/b.toml"], 2, "MISSING/a.toml: policy file not found"),
    (["compare", "a.toml", "b.toml", "--reps", "1"], 2, "'--reps': Input should be greater than or equal to 2; got 1"),
    # twin serve / token
    (["serve", "--port", "99999"], 2, "'--port': Input should be less than or equal to 65535; got 99999"),
    (["serve", "--port", "BUSY"], 1, "--port BUSY: cannot listen on 127.0.0.1:BUSY (another process is listening there)"),
    (["serve", "--db", "MISSING/x.db"], 2, "--db MISSING/x.db: expected a SQLite file in an existing directory"),
    (["serve", "--db", "DIR"], 2, "--db DIR: expected a SQLite file path, got an existing directory"),
    (["serve", "--db", NO_PG], 1, "--db: cannot connect to PostgreSQL at 127.0.0.1:1"),
    (["serve", "--db", "mysql://x"], 2, "--db 'mysql://x': expected a SQLite path, sqlite:///path, postgresql://… or memory:"),
    (["serve", "--categories", "stret"], 2, "--categories: expected a bundled scenario (street, district, flood, epidemic, extreme)"),
    (["serve", "--categories", "MISSING/x.toml"], 2, "--categories: MISSING/x.toml: (file): expected an existing scenario file, got no such file"),
    (["serve", "--territory-bbox", "29.6,106.5,29.5,106.6"], 2, "--territory-bbox: expected south < north within ±90 and west < east within ±180"),
    (["serve", "--territory", "MISSING/grids.geojson"], 2, "--territory: MISSING/grids.geojson: expected a readable GeoJSON file"),
    (["serve", "--log-level", "loud"], 2, "--log-level 'loud': expected one of critical, error, warning"),
    (["token", "create", "--role", "admin", "--scope", "district:D", "--db", "MISSING/x.db"], 2,
     "--db MISSING/x.db: expected a SQLite file in an existing directory"),
    (["token", "create", "--role", "admin", "--scope", "district:D", "--db", NO_PG], 1,
     "--db: cannot connect to PostgreSQL at 127.0.0.1:1"),
    (["token", "create", "--role", "admin", "--scope", "nope", "--db", "t.db"], 2, "--scope: scope 'nope': expected KIND:UNIT"),
    (["token", "create", "--role", "wizard", "--scope", "grid:G1", "--db", "t.db"], 2, "Invalid value for '--role'"),
    (["token", "create", "--role", "admin", "--scope", "grid:G1", "--db", "memory:"], 2, "expected a durable database"),
    # twin loadtest
    (["loadtest", "--out", "FILE"], 2, "--out FILE: expected a directory (new or existing), got an existing file"),
    (["loadtest", "--duration", "soon", "--out", "lt"], 2, "--duration: expected a time like 90, 90s, 2m or 1h30m, got 'soon'"),
    (["loadtest", "--device-lost-replies", "2", "--out", "lt"], 2, "'--device-lost-replies': Input should be less than or equal to 1; got 2"),
    (["loadtest", "--seed", "-5", "--out", "lt"], 2, "'--seed': Input should be greater than or equal to 0; got -5"),
    (["loadtest", "--target", "soap", "--out", "lt"], 2, "--target 'soap': expected reference or open311"),
    (["loadtest", "--db", NO_PG, "--out", "lt"], 1, "--db: cannot connect to PostgreSQL at 127.0.0.1:1"),
    (["loadtest", "--db", "MISSING/x.db", "--out", "lt"], 2, "--db MISSING/x.db: expected a SQLite file in an existing directory"),
    # twin drill / drill-compare
    (["drill", "--port", "99999", "--no-browser", "--out", "d"], 2, "'--port': Input should be less than or equal to 65535; got 99999"),
    (["drill", "--port", "BUSY", "--no-browser", "--out", "d"], 1, "--port BUSY: cannot listen on 127.0.0.1:BUSY"),
    (["drill", "--seed", "-5", "--no-browser", "--out", "d"], 2, "'--seed': Input should be greater than or equal to 0; got -5"),
    (["drill", "--out", "FILE", "--no-browser"], 2, "--out FILE: expected a directory (new or existing), got an existing file"),
    (["drill", "--speed", "fast", "--no-browser", "--out", "d"], 2, "'--speed'"),
    (["drill-compare", "MISSING"], 2, "MISSING: drill.json: expected a drill run directory, got no such file"),
    (["drill-compare", "FILE", "--out", "DIR"], 2, "--out DIR: expected a file path, got an existing directory"),
    # twin demo, twin itself
    (["demo", "--cases", "0"], 2, "'--cases': Input should be greater than or equal to 1; got 0"),
    (["frobnicate"], 2, "No such command 'frobnicate'"),
]


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port on 127.0.0.1 that a listening socket holds for the test."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        yield sock.getsockname()[1]


def _fill(args: list[str], tmp: Path, port: int) -> list[str]:
    subs = {"FILE": str(tmp / "a-file"), "DIR": str(tmp / "a-dir"), "MISSING": str(tmp / "missing"), "BUSY": str(port)}
    out = []
    for a in args:
        for k, v in subs.items():
            a = a.replace(k, v)
        out.append(a)
    return out


@pytest.mark.parametrize(("args", "code", "expected"), CASES, ids=[" ".join(c[0])[:60] for c in CASES])
def test_bad_input_is_one_line_and_an_exit_code(
    args: list[str], code: int, expected: str, tmp_path: Path, busy_port: int,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "a-file").write_text("not a directory\n", encoding="utf-8")
    (work / "a-dir").mkdir()
    monkeypatch.chdir(work)
    before = sorted(p.relative_to(work) for p in work.rglob("*"))

    rc = run_cli(_fill(args, work, busy_port))

    out, err = capsys.readouterr()
    text = (out + err).strip()
    assert rc == code, text
    assert "Traceback" not in text
    assert len(text.splitlines()) == 1, text
    assert _fill([expected], work, busy_port)[0] in text
    assert sorted(p.relative_to(work) for p in work.rglob("*")) == before, "bad input left files behind"


def test_the_entry_point_exits_2_with_the_line(tmp_path: Path) -> None:
    """The installed ``twin`` (its ``main``) exits with the code and prints only the line."""
    cp = subprocess.run(
        [sys.executable, "-c", "from twin.cli import main; main()", "run", "--seed", "-5"],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
    )
    assert cp.returncode == 2
    assert cp.stdout == ""
    assert cp.stderr == (
        "error: Invalid value for '--seed': Input should be greater than or equal to 0; got -5 (see 'twin run --help')\n"
    )
    assert list(tmp_path.iterdir()) == []


def test_an_unexpected_error_is_one_line_and_debug_shows_the_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import twin.cli.demo

    def broken(*_a: object, **_k: object) -> None:
        raise RuntimeError("the store fell over")

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(twin.cli.demo, "CaseEngine", broken)
    assert run_cli(["demo"]) == 1
    err = capsys.readouterr().err
    assert err == "error: RuntimeError: the store fell over (unexpected; rerun with --debug for the traceback)\n"
    with pytest.raises(RuntimeError, match="the store fell over"):
        run_cli(["--debug", "demo"])
