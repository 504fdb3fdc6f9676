"""docs/decisions.md#hostile-input on the later commands and settings, through the CLI.

`finwatt exec`, `chargeback`, `runs --diff`, `monitor --attribute --top`, `[bmc]`,
`[defaults] host_curve` / `vm_share` / `carbon_table`, driven as a careless user, a
hostile job and a faulty machine would: bad input is exit 2 with one line naming the
problem and the fix, a runtime failure exit 1 with one line, never a traceback, never a
hang (a FIFO or `/dev/zero` where a file is expected), and nothing stored when the input
is refused. Each case starts from a database holding two imported runs, so "nothing
stored" compares real row counts.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fakes.cli import exec_document, run_finwatt
from tests.robustness.contract import BASE_DOCUMENT, Home, assert_one_line_error, row_counts

HEADER = "code,g_per_kwh,gas,year,source"


@pytest.fixture(scope="module")
def seeded_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database with an imported profile run (`base`, no inventory) and a monitor run."""
    root = tmp_path_factory.mktemp("seed")
    db = root / "seed.db"
    monitor = copy.deepcopy(BASE_DOCUMENT)
    monitor["run"] |= {"id": "mon", "kind": "monitor"}
    monitor["phases"] = []
    for name, document in (("base", BASE_DOCUMENT), ("mon", monitor)):
        path = root / f"{name}.json"
        path.write_text(json.dumps(document))
        done = run_finwatt("import", str(path), "--db", str(db))
        assert done.returncode == 0, done.stderr
    return db


@pytest.fixture
def seeded(home: Home, seeded_db: Path) -> Home:
    """The private home with the seeded database copied in."""
    home.db.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(seeded_db, home.db)
    return home


def finwatt(
    home: Home, *args: str, config: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run finwatt in `home`; `config`: the text of its config file (None: none)."""
    env = {**home.env, **(env or {})}
    if config is not None:
        home.config.parent.mkdir(parents=True, exist_ok=True)
        home.config.write_text(config)
        env["FINWATT_CONFIG"] = str(home.config)
    return run_finwatt(*args, env=env, timeout=45)


def refused(
    home: Home, code: int, args: tuple[str, ...], *words: str, config: str | None = None
) -> str:
    """Assert the contract and that no row was added or removed."""
    before = row_counts(home.db)
    line = assert_one_line_error(finwatt(home, *args, config=config), code, *words)
    assert row_counts(home.db) == before
    return line


# ----- finwatt exec: options and the command -------------------------------------------


@pytest.mark.parametrize(
    ("options", "words"),
    [
        (("--tag", "=x"), ("--tag", "KEY=VALUE")),
        (("--tag", "desk="), ("--tag", "empty")),
        (("--tag", "desk=a", "--tag", "desk=b"), ("--tag", "given twice")),
        (("--tag", "desk=\x1b]0;owned\x07"), ("--tag", "control characters")),
        (("--unit", "\x1b[2J"), ("--unit", "plain text")),
        (("--units", "nan"), ("--units", "finite")),
        (("--units", "-1"), ("--units", ">= 0")),
        (("--units", "1e19"), ("--units", "at most 1e+18")),
    ],
)
def test_bad_exec_options_are_refused_before_anything_runs(
    seeded: Home, options: tuple[str, ...], words: tuple[str, ...]
) -> None:
    refused(seeded, 2, ("exec", *options, "--", "true"), *words)


def test_a_command_that_cannot_be_run_is_refused(seeded: Home) -> None:
    folder = seeded.root / "a-dir"
    folder.mkdir()
    plain = seeded.root / "not-executable"
    plain.write_text("echo hi\n")
    for command in (str(folder), str(plain), ""):
        refused(seeded, 2, ("exec", "--", command), "command not found or not executable")


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"\x7fELF not really", "not a program for this machine"),
        (b"#!/bin/sh\r\necho hi\r\n", "CRLF"),  # the kernel looks for "/bin/sh\r"
    ],
)
def test_a_command_the_kernel_will_not_start_is_one_line_and_a_failed_run(
    seeded: Home, content: bytes, why: str
) -> None:
    program = seeded.root / "program"
    program.write_bytes(content)
    program.chmod(0o755)
    done = finwatt(seeded, "exec", "--", str(program))
    line = assert_one_line_error(done, 1, "cannot start", why, "stored as failed")
    with sqlite3.connect(seeded.db) as conn:
        status, reason = conn.execute(
            "SELECT status, status_reason FROM run WHERE kind = 'job'"
        ).fetchone()
    assert status == "failed" and reason in line
    assert row_counts(seeded.db)["job"] == 0


@pytest.mark.parametrize(
    ("make", "why"),
    [
        ('mkfifo "$FINWATT_UNITS_FILE"', "a FIFO"),
        ('ln -s /dev/zero "$FINWATT_UNITS_FILE"', "a character device"),
        ('head -c 9999 /dev/zero | tr "\\0" 7 > "$FINWATT_UNITS_FILE"', "larger than"),
    ],
)
def test_a_hostile_units_file_is_a_note_not_a_hang(seeded: Home, make: str, why: str) -> None:
    done = finwatt(seeded, "exec", "--json", "--units", "5", "--", "sh", "-c", make)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    document = exec_document(done.stderr)
    assert document["units"] == 5.0  # the given units stand
    assert len(document["notes"]) == 1 and why in document["notes"][0]


def test_tiny_units_give_no_per_unit_figure_rather_than_an_invalid_json(seeded: Home) -> None:
    """1e-320 units made J/unit infinite: `--json` failed after the job had run."""
    # The job must use CPU (a charged energy above 0, so J/unit would overflow): a sleeping
    # job is charged 0 J under the default idle policy, and 0 / 1e-320 is a finite 0.
    script = (
        "import os; open(os.environ['FINWATT_UNITS_FILE'], 'w').write('1e-320'); "
        "sum(i * i for i in range(3_000_000))"
    )
    done = finwatt(
        seeded, "exec", "--json", "--interval", "0.1s", "--", sys.executable, "-c", script
    )
    assert done.returncode == 0, done.stderr
    document = exec_document(done.stderr)
    assert document["energy_j"] > 0, document
    assert document["units"] == 1e-320 and document["j_per_unit"] is None
    done = finwatt(seeded, "chargeback", "--by", "unit", "--json")
    assert done.returncode == 0, done.stderr


# ----- chargeback, runs --diff, monitor --top -------------------------------------------


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("chargeback", "--by", "tag:"), ("--by", "tag:KEY")),
        (("chargeback", "--since", "0s"), ("--since", "positive")),
        (("chargeback", "--since", "999999999d"), ("--since", "36500d")),
        (("chargeback", "--json", "--csv"), ("--json or --csv",)),
        (("runs", "--diff", "nosuch", "base"), ("--diff", "no run 'nosuch'")),
        (("runs", "--diff", "ba", "base"), ("--diff", "no run 'ba'")),  # no prefix guessing
        (("runs", "--diff", "base", "mon"), ("--diff", "no inventory")),
        (("monitor", "--attribute", "--top", "0"), ("--top", "1 to 100")),
        (("monitor", "--attribute", "--top", "abc"), ("--top",)),
        (("monitor", "--top", "5", "--duration", "1s"), ("--top", "needs --attribute")),
    ],
)
def test_bad_report_options_are_one_line_usage_errors(
    seeded: Home, args: tuple[str, ...], words: tuple[str, ...]
) -> None:
    refused(seeded, 2, args, *words)


def test_runs_diff_of_a_run_with_itself_says_nothing_changed(seeded: Home) -> None:
    done = finwatt(seeded, "exec", "--json", "--", "true")
    run_id = exec_document(done.stderr)["run"]
    done = finwatt(seeded, "runs", "--diff", run_id, run_id, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["changed"] == []


def test_chargeback_csv_shows_control_characters_escaped(seeded: Home) -> None:
    """A job's command name reaches `chargeback --csv`; its ESC must not reach the terminal."""
    hostile = seeded.root / "job\x1b[2J"
    shutil.copy(shutil.which("true") or "/bin/true", hostile)
    done = finwatt(seeded, "exec", "--", str(hostile))
    assert done.returncode == 0, done.stderr
    done = finwatt(seeded, "chargeback", "--by", "command", "--csv")
    assert done.returncode == 0, done.stderr
    assert "\x1b" not in done.stdout and "job\\x1b[2J" in done.stdout


# ----- config: [bmc], host_curve, vm_share, carbon_table ---------------------------------


@pytest.mark.parametrize(
    ("table", "words"),
    [
        ('redfish_url = "https://"', ("redfish_url", "https://<bmc host>")),
        ('redfish_url = "https://admin:pw@bmc"', ("redfish_url", "user:password@")),
        ("redfish_pasword_file = '/x'", ("unknown key 'redfish_pasword_file'",)),
    ],
)
def test_a_bad_bmc_table_is_refused_at_load(
    seeded: Home, table: str, words: tuple[str, ...]
) -> None:
    refused(seeded, 2, ("runs",), "[bmc]", *words, config=f"[bmc]\n{table}\n")


def test_a_hostile_bmc_file_is_a_doctor_finding_not_a_crash(seeded: Home) -> None:
    """Password file binary, a FIFO, /dev/zero, empty; CA bundle missing: `doctor` says why."""
    binary = seeded.root / "binary.pw"
    binary.write_bytes(b"\xff\xfe\x00")
    fifo = seeded.root / "fifo.pw"
    os.mkfifo(fifo)
    empty = seeded.root / "empty.pw"
    empty.write_text("")
    cases = [
        ("redfish_password_file", binary, "not UTF-8"),
        ("redfish_password_file", fifo, "a FIFO"),
        ("redfish_password_file", Path("/dev/zero"), "a character device"),
        ("redfish_password_file", empty, "is empty"),
        ("redfish_ca_bundle", seeded.root / "no-such-ca.pem", "redfish_ca_bundle"),
    ]
    for key, path, why in cases:
        config = (
            f'[bmc]\nredfish_url = "https://127.0.0.1:9"\nredfish_user = "u"\n{key} = "{path}"\n'
        )
        done = finwatt(seeded, "doctor", "--json", config=config, env={"FINWATT_BMC_PASSWORD": "x"})
        assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
        families = json.loads(done.stdout)["families"]
        family = next(f for f in families if f["family"] == "redfish")
        assert family["state"] == "not_readable" and why in family["reason"], family


@pytest.mark.parametrize(
    ("csv_text", "words"),
    [
        ("", ("at least two",)),
        ("load,watts\n0,100\n1,-5\n", ("line 3", "finite number, 0 or more")),
        ("0,100\n0,120\n1,200\n", ("given twice",)),
        ("0,100\n1,200," + "x" * 200_000 + "\n", ("not CSV",)),
        ("\ufeff0,90\n1,200\n", None),  # a byte-order mark hides no row: accepted
        (None, ("a FIFO",)),
    ],
)
def test_a_bad_host_curve_is_refused_and_stores_nothing(
    seeded: Home, csv_text: str | None, words: tuple[str, ...] | None
) -> None:
    path = seeded.root / "curve.csv"
    if csv_text is None:
        os.mkfifo(path)
    else:
        path.write_text(csv_text, encoding="utf-8")
    config = f'[defaults]\nhost_curve = "{path}"\nvm_share = 0.25\n'
    args = ("monitor", "--duration", "0.3s", "--interval", "0.1s")
    if words is None:
        done = finwatt(seeded, *args, config=config)
        assert done.returncode == 0, done.stderr
        return
    refused(seeded, 2, args, "host_curve" if csv_text is None else str(path), *words, config=config)


@pytest.mark.parametrize(
    ("name", "words"),
    [("mon", ("a monitor run", "profiling run")), ("base", ("no CPU ladder",))],
)
def test_a_host_curve_run_that_is_not_a_host_profile_is_refused(
    seeded: Home, name: str, words: tuple[str, ...]
) -> None:
    config = f'[defaults]\nhost_curve = "{name}"\nvm_share = 0.25\n'
    refused(
        seeded, 2, ("monitor", "--duration", "1s"), f"host_curve {name!r}", *words, config=config
    )


def test_chargeback_csv_does_not_hand_a_spreadsheet_a_formula(seeded: Home) -> None:
    """A tag value like `=HYPERLINK(...)` would run when the CSV is opened in a spreadsheet."""
    done = finwatt(seeded, "exec", "--tag", "desk=@SUM(1+1)", "--", "true")
    assert done.returncode == 0, done.stderr
    done = finwatt(seeded, "chargeback", "--by", "tag:desk", "--csv")
    assert done.returncode == 0, done.stderr
    assert "'@SUM(1+1)" in done.stdout and "\n@SUM" not in done.stdout


def test_vm_share_without_a_host_curve_is_refused_at_load(seeded: Home) -> None:
    refused(seeded, 2, ("runs",), "without host_curve", config="[defaults]\nvm_share = 0.25\n")


@pytest.mark.parametrize("share", ["0", "nan"])
def test_a_bad_vm_share_is_refused_at_load(seeded: Home, share: str) -> None:
    refused(seeded, 2, ("runs",), "vm_share", config=f"[defaults]\nvm_share = {share}\n")


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (f"{HEADER}\nFRA,50,CO2,2024,a\nfra,60,CO2,2024,b\n", ("line 3", "already")),
        (f'{HEADER}\nFRA,50,CO2,2024,"open\nDEU,300,CO2,2024,x\n', ("line 2", "not CSV")),
        (HEADER + "\n" + "A,1,CO2,2024,s\n" * 400_000, ("larger than 4 MiB",)),
        (None, ("a FIFO",)),
    ],
)
def test_a_bad_carbon_table_is_refused_at_load(
    seeded: Home, body: str | None, words: tuple[str, ...]
) -> None:
    path = seeded.root / "grid.csv"
    if body is None:
        os.mkfifo(path)
    else:
        path.write_text(body)
    config = f'[defaults]\ncarbon_table = "{path}"\ncountry = "FRA"\n'
    refused(seeded, 2, ("runs",), "carbon_table", *words, config=config)


def test_a_carbon_table_with_bom_and_crlf_is_read(seeded: Home) -> None:
    path = seeded.root / "grid.csv"
    path.write_bytes(f"\ufeff{HEADER}\r\nFRA,52,CO2e,2024,RTE eco2mix\r\n".encode())
    config = f'[defaults]\ncarbon_table = "{path}"\ncountry = "FRA"\n'
    done = finwatt(seeded, "analyze", "base", "--json", config=config)
    assert done.returncode == 0, done.stderr
    assert "RTE eco2mix" in done.stdout
