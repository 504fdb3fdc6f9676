"""The command table: which module registers each command, and its one-line summary.

`finwatt` imports a command's module only when that command runs (`profiler.cli.lazy`),
so `--version`, `-h` and a light command such as `runs` load neither numpy nor httpx.
`-h` lists the commands from this table; tests/profiler/cli/test_startup.py checks it
against the commands the modules really register (names, order, summaries) and
`TOP_HELP` against what typer prints, so the table cannot drift from the code.

This module imports nothing: `profiler.cli.main` answers `finwatt --version` and
`finwatt -h` from it before typer is imported (typer alone costs about 2 x `python -c
pass`; docs/benchmarks.md#start-up).
"""

from __future__ import annotations

from typing import NamedTuple


class Command(NamedTuple):
    """Where a command lives and what `-h` says about it."""

    module: str
    """The module whose import registers the command on `profiler.cli.common.app`."""
    summary: str
    """The first paragraph of the command's help, as `-h` shortens it."""


COMMANDS: dict[str, Command] = {
    "doctor": Command(
        "profiler.cli.core",
        "Show the sensors and devices found, their provenance, and how to get more.",
    ),
    "monitor": Command(
        "profiler.cli.core",
        "Record utilisation and power of every device until the duration ends or Ctrl-C.",
    ),
    "runs": Command(
        "profiler.cli.core",
        "List stored runs, newest first (or, with --diff A B, what changed between two).",
    ),
    "run": Command(
        "profiler.cli.run",
        "Profile workloads on every device: calibrate, load ladder, energy per unit of work.",
    ),
    "analyze": Command(
        "profiler.cli.analysis",
        "Find idle, oversized and inefficient capacity and what fixing it saves per year.",
    ),
    "report": Command(
        "profiler.cli.analysis",
        "Write a self-contained HTML efficiency report of a run and print its path.",
    ),
    "trend": Command(
        "profiler.cli.analysis",
        "Units/J per workload and device over time, daily energy, and regressions (> 10%).",
    ),
    "export": Command(
        "profiler.cli.data", "Export a run: the JSON interchange document, or its samples as CSV."
    ),
    "import": Command(
        "profiler.cli.data", "Import a run from the JSON interchange format and print its id."
    ),
    "demand": Command(
        "profiler.cli.demand",
        "Show when capacity is used, by local weekday x hour, and the schedule that fits it.",
    ),
    "exec": Command(
        "profiler.cli.jobs",
        "Run COMMAND (no shell), follow its process tree and charge it its energy.",
    ),
    "chargeback": Command(
        "profiler.cli.jobs",
        "Energy, kWh, CO2e and cost per group of jobs, with `idle` and `unattributed` rows.",
    ),
    "pods": Command(
        "profiler.cli.jobs",
        "Pod containers' CPU requests against measured use, and what the unused part costs.",
    ),
    "live": Command(
        "profiler.cli.live",
        "Full-screen live view of every device's power, utilisation, energy and waste.",
    ),
    "serve": Command(
        "profiler.cli.live",
        "Serve live sensor readings to Prometheus at /metrics until Ctrl-C or SIGTERM.",
    ),
    "config": Command(
        "profiler.cli.config", "The config file: its JSON Schema, and a check of a file."
    ),
    "db": Command("profiler.cli.data", "Database housekeeping: sizes, retention."),
    "schedule": Command(
        "profiler.cli.schedule",
        "Scheduled profiling and monitoring runs ([[schedule]] in config.toml).",
    ),
}
"""Every top-level command, in the order `-h` lists them."""

TOP_HELP = """\
Usage: finwatt [OPTIONS] COMMAND [ARGS]...

  Energy profiler for financial compute: where capacity idles and burns power.

Options:
  --config <path>       Config file (default
                        $XDG_CONFIG_HOME/finwatt/config.toml).
  --version             Print the version and exit.
  --log-format <str>    stderr log lines: text, or json (one object a line:
                        timestamp, level, event, run_id) for
                        journald/Loki/Splunk.  [default: text]
  --install-completion  Install completion for the current shell.
  --show-completion     Show completion for the current shell, to copy it or
                        customize the installation.
  -h, --help            Show this message and exit.

Commands:
  doctor      Show the sensors and devices found, their provenance, and...
  monitor     Record utilisation and power of every device until the...
  runs        List stored runs, newest first (or, with --diff A B, what...
  run         Profile workloads on every device: calibrate, load ladder,...
  analyze     Find idle, oversized and inefficient capacity and what...
  report      Write a self-contained HTML efficiency report of a run and...
  trend       Units/J per workload and device over time, daily energy,...
  export      Export a run: the JSON interchange document, or its samples...
  import      Import a run from the JSON interchange format and print its...
  demand      Show when capacity is used, by local weekday x hour, and...
  exec        Run COMMAND (no shell), follow its process tree and charge...
  chargeback  Energy, kWh, CO2e and cost per group of jobs, with `idle`...
  pods        Pod containers' CPU requests against measured use, and what...
  live        Full-screen live view of every device's power, utilisation,...
  serve       Serve live sensor readings to Prometheus at /metrics until...
  config      The config file: its JSON Schema, and a check of a file.
  db          Database housekeeping: sizes, retention.
  schedule    Scheduled profiling and monitoring runs ([[schedule]] in...
"""
"""What `finwatt -h` prints on a terminal at least 80 columns wide (click caps help at 80)."""
