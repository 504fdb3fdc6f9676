"""Hostile and careless input gives one line and exit 1 or 2, never a traceback.

Each case runs the real `finwatt` (a child process, `tests.fakes.cli.run_finwatt`) and
asserts the contract of `tests.robustness.contract.assert_one_line_error`, and that
nothing was stored where nothing may be. The Prometheus answers come from real HTTP
servers on 127.0.0.1 (`test_prometheus_answers.py`); database files (corrupted,
read-only) are `test_database_files.py`'s.
"""

from __future__ import annotations

import copy
import fcntl
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from profiler.store.interchange import InterchangeError, parse_document, validate_document
from profiler.workflows.runlock import FileLock, describe_holder
from tests.fakes.cli import run_finwatt
from tests.robustness.contract import BASE_DOCUMENT, Home, assert_one_line_error, row_counts

# --- durations: bounded before anything is stored ------------------------------------


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("monitor", "--duration", "200000d"), ("--duration", "36500d")),
        (("analyze", "--since", "99999999999d"), ("--since", "36500d")),
        (("report", "--since", "99999999999d", "-o", "r.html"), ("--since",)),
        (("run", "risk", "--phase-seconds", "2d"), ("--phase-seconds", "24h")),
        (("run", "risk", "--phase-seconds", ""), ("--phase-seconds", "not a duration")),
        (
            ("analyze", "--prometheus", "http://127.0.0.1:1", "--step", "1ms"),
            ("--step", "1s"),
        ),
        (
            ("analyze", "--prometheus", "http://127.0.0.1:1", "--since", "36500d", "--step", "1s"),
            ("--step", "points per series"),
        ),
    ],
    ids=lambda v: " ".join(v)[:40] if isinstance(v, tuple) else None,
)
def test_out_of_range_durations_exit_2_and_store_nothing(
    home: Home, args: tuple[str, ...], words: tuple[str, ...]
) -> None:
    result = run_finwatt(*args, env=home.env, cwd=home.root)
    assert_one_line_error(result, 2, *words)
    assert row_counts(home.db) == {}, "a refused command created or filled the database"
    assert not (home.root / "r.html").exists()


# --- the config file and the environment ---------------------------------------------


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (bytes(range(256)) * 4, ("not UTF-8", "save it as UTF-8")),
        ('db = "caf\u00e9.db"\n'.encode("latin-1"), ("not UTF-8",)),
        (b"cpu_tdp_w = 1e300\n", ("cpu_tdp_w", "1000")),
        (b"cpu_tdp_w = " + b"1" * 400 + b"\n", ("cpu_tdp_w", "400 digits")),
        (b"cpu_tdp_w = " + b"1" * 5000 + b"\n", ("not valid TOML", "4300 digits")),
    ],
    ids=["binary", "latin-1", "tdp-1e300", "tdp-400-digits", "5000-digits"],
)
def test_a_bad_config_file_is_one_line_naming_the_file(
    home: Home, content: bytes, words: tuple[str, ...]
) -> None:
    home.config.parent.mkdir(parents=True)
    home.config.write_bytes(content)
    result = run_finwatt("runs", env=home.env)
    line = assert_one_line_error(result, 2, str(home.config), *words)
    assert "\x00" not in line
    assert row_counts(home.db) == {}


def test_a_config_path_that_is_a_directory_is_one_line(home: Home) -> None:
    home.config.mkdir(parents=True)
    result = run_finwatt("runs", env=home.env)
    assert_one_line_error(result, 2, str(home.config), "not a regular file")


@pytest.mark.parametrize("value", ["1e300", "9" * 5000])
def test_cpu_tdp_from_the_environment_is_bounded(home: Home, value: str) -> None:
    result = run_finwatt("doctor", env={**home.env, "FINWATT_CPU_TDP_W": value})
    assert_one_line_error(result, 2, "FINWATT_CPU_TDP_W", "cpu_tdp_w")


@pytest.mark.parametrize(
    ("db", "words"),
    [("", ("--db", "is a directory")), ("9" * 300, ("--db", "File name too long"))],
    ids=["empty", "300-characters"],
)
def test_a_database_path_that_cannot_be_a_file_is_one_line(
    home: Home, db: str, words: tuple[str, ...]
) -> None:
    result = run_finwatt("schedule", "list", "--db", db, env=home.env, cwd=home.root)
    assert_one_line_error(result, 2, *words)


@pytest.mark.parametrize(
    "args",
    [
        ("config", "check", "JUNK"),
        ("schedule", "remove", "x", "--config", "JUNK"),
        ("schedule", "add", "x", "--action", "monitor", "--every", "1h", "--config", "JUNK"),
        ("serve", "--web-config", "JUNK", "--port", "0"),
        ("import", "JUNK"),
    ],
    ids=lambda v: " ".join(v[:2]),
)
def test_a_binary_file_where_text_is_expected_is_one_line_exit_2(
    home: Home, args: tuple[str, ...]
) -> None:
    junk = home.root / "junk.bin"
    junk.write_bytes(bytes(range(256)) * 4)
    result = run_finwatt(*(str(junk) if a == "JUNK" else a for a in args), env=home.env)
    assert_one_line_error(result, 2, str(junk))
    assert junk.read_bytes() == bytes(range(256)) * 4
    assert row_counts(home.db).get("run", 0) == 0


@pytest.mark.parametrize("units", ["nan", "inf", "1e400", "-1"])
def test_exec_refuses_units_json_cannot_carry_before_running_anything(
    home: Home, units: str
) -> None:
    marker = home.root / "ran"
    result = run_finwatt("exec", "--units", units, "--", "touch", str(marker), env=home.env)
    assert_one_line_error(result, 2, "--units", "finite")
    assert not marker.exists()
    assert row_counts(home.db).get("run", 0) == 0


# --- lock files --------------------------------------------------------------------


def test_a_directory_in_place_of_the_run_lock_is_one_line_and_no_run(home: Home) -> None:
    lock = home.db.with_name(home.db.name + ".lock")
    lock.mkdir(parents=True)
    result = run_finwatt("run", "risk", "--quick", env=home.env, timeout=120)
    assert_one_line_error(result, 1, str(lock), "is a directory", "rmdir")
    assert row_counts(home.db).get("run", 0) == 0


def test_junk_bytes_in_a_held_lock_still_name_a_holder(tmp_path: Path) -> None:
    path = tmp_path / "f.db.lock"
    path.write_bytes(b"\xff\xfe\x00\x1b]0;pwned\x07" + bytes(range(256)))
    with path.open("rb") as holder:
        fcntl.flock(holder.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert describe_holder(path) == "another finwatt process (it has not written its name yet)"
        assert not FileLock(path, "test").try_acquire()


def test_a_lock_line_with_control_characters_is_shown_escaped(tmp_path: Path) -> None:
    path = tmp_path / "f.db.lock"
    path.write_text(json.dumps({"pid": 7, "host": "h\x1b[2J", "what": "x\x07", "since": "s"}))
    said = describe_holder(path)
    assert "\x1b" not in said and "\x07" not in said
    assert "pid 7 on h\\x1b[2J" in said


def test_junk_bytes_in_a_free_lock_are_replaced_by_the_holder_line(tmp_path: Path) -> None:
    path = tmp_path / "f.db.lock"
    path.write_bytes(bytes(range(256)) * 8)
    with FileLock(path, "finwatt run"):
        holder = json.loads(path.read_text(encoding="utf-8"))
        assert holder["what"] == "finwatt run"
    assert path.read_bytes() == b""


# --- imports: huge integers and out-of-range figures -------------------------------

HUGE = 10**400


@pytest.fixture(scope="module")
def seeded_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database holding one imported run (the base document)."""
    root = tmp_path_factory.mktemp("seeded")
    doc = root / "base.json"
    doc.write_text(json.dumps(BASE_DOCUMENT))
    db = root / "f.db"
    result = run_finwatt("import", str(doc), "--db", str(db))
    assert result.returncode == 0, result.stderr
    return db


IMPORT_CASES: list[tuple[tuple[str | int, ...], object, tuple[str, ...]]] = [
    (("devices", 0, "logical_cores"), HUGE, ("devices[0].logical_cores", "401 digits")),
    (("devices", 0, "power_limit_w"), HUGE, ("devices[0].power_limit_w", "401 digits")),
    (("devices", 0, "power_limit_w"), 1e300, ("devices[0].power_limit_w", "1e+06")),
    (("devices", 0, "details"), {"x": HUGE}, ("devices[0].details", "64 bits")),
    (("run", "interval_s"), HUGE, ("run.interval_s",)),
    (("run", "missed_ticks"), HUGE, ("run.missed_ticks",)),
    (("run", "config"), {"duration_s": HUGE}, ("run.config", "64 bits")),
    (("samples", 0, "t"), HUGE, ("samples[0].t",)),
    (("samples", 0, "t"), 1e300, ("samples[0].t",)),
    (("samples", 0, "power_w"), 1e307, ("samples[0].power_w", "1e+06")),
    (("samples", 0, "energy_j"), 1e300, ("samples[0].energy_j",)),
    (("samples", 11, "mem_used_bytes"), HUGE, ("samples[11].mem_used_bytes",)),
    (("samples", 0, "temperature_c"), HUGE, ("samples[0].temperature_c",)),
    (("phases", 0, "units"), HUGE, ("phases[0].units",)),
    (("phases", 0, "units"), 1e300, ("phases[0].units",)),
    (("phases", 0, "t_end"), 1e300, ("phases[0].t_end",)),
    (("phases", 0, "details"), {"energy_j": HUGE}, ("phases[0].details", "64 bits")),
    (("version",), HUGE, ("version",)),
]
"""Where a huge number goes in an import, and what the one-line refusal must name."""


def _with(where: tuple[str | int, ...], value: object) -> dict[str, Any]:
    document = copy.deepcopy(BASE_DOCUMENT)
    target: Any = document
    for key in where[:-1]:
        target = target[key]
    target[where[-1]] = value
    return document


@pytest.mark.parametrize(("where", "value", "words"), IMPORT_CASES)
def test_every_huge_number_in_a_document_is_refused_by_validation(
    where: tuple[str | int, ...], value: object, words: tuple[str, ...]
) -> None:
    with pytest.raises(InterchangeError) as refused:
        validate_document(parse_document(json.dumps(_with(where, value))))
    message = str(refused.value)
    assert "\n" not in message and len(message) < 300
    for word in words:
        assert word in message


@pytest.mark.parametrize(
    ("where", "value", "words"),
    [
        case
        for case in IMPORT_CASES
        if case[0][0] in ("devices", "phases") or case[0] == ("run", "config")
    ][::2],
    ids=lambda v: ".".join(map(str, v)) if isinstance(v, tuple) and len(v) < 4 else None,
)
def test_an_import_with_huge_numbers_is_one_line_and_stores_nothing(
    seeded_db: Path,
    tmp_path: Path,
    where: tuple[str | int, ...],
    value: object,
    words: tuple[str, ...],
) -> None:
    db = tmp_path / "f.db"
    shutil.copy(seeded_db, db)
    before = row_counts(db)
    path = tmp_path / "doc.json"
    path.write_text(json.dumps(_with(where, value)))
    result = run_finwatt("import", str(path), "--db", str(db))
    assert_one_line_error(result, 2, str(path), "nothing imported", *words)
    assert row_counts(db) == before
