"""The shipped SPECpower curve table, derived from parsed SPECpower_ssj2008 results.

A result is one published SPECpower_ssj2008 run: the server's average wall power at
active idle and at 10 % ... 100 % target load, its CPU name, chips, cores, threads and
memory. Each result gives a per-thread curve (watts / hardware threads at each level) and
a per-socket one (watts / chips). For every group of `groups.cpu_groups` with results the
table holds the median per-thread curve, a low/high band (see `group_curve`), the median
per-socket curve, and the group's leave-one-out error: each of its results predicted from
the others' median per-thread curve, the absolute error in percent of the published power
over all levels (median, 90th percentile). Building is deterministic: the same results give the
same table text (`tests/profiler/sensors/test_specpower_table.py` rebuilds it).
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from profiler.sensors.specpower.groups import Group, cpu_groups

LOADS = tuple(round(0.1 * i, 1) for i in range(11))
"""SPECpower's levels: active idle (0) and 10 % ... 100 % target load, ascending."""
BAND_QUANTILE = 100.0
"""The band at a level: median -/+ this percentile (100: the largest) of the group's LOO errors."""
MIN_RESULTS = 3
"""A group is chosen for a host only when it rests on at least this many results."""
_PCT = tuple(int(load * 100) for load in LOADS)
RESULT_FIELDS: tuple[str, ...] = (
    "result",
    "system",
    "published",
    "cpu",
    "chips",
    "cores",
    "threads",
    "memory_gb",
)
RESULT_FIELDS += tuple(f"w{p}" for p in _PCT)
TABLE_FIELDS: tuple[str, ...] = (
    "level",
    "key",
    "label",
    "results",
    "err_median_pct",
    "err_p90_pct",
)
TABLE_FIELDS += tuple(f"thread_w{p}" for p in _PCT) + tuple(f"thread_low_w{p}" for p in _PCT)
TABLE_FIELDS += tuple(f"thread_high_w{p}" for p in _PCT) + tuple(f"socket_w{p}" for p in _PCT)


class SpecTableError(ValueError):
    """A results or table file is malformed; the message names the row."""


@dataclass(frozen=True)
class SpecResult:
    """One published SPECpower_ssj2008 result as parsed from its page.

    Attributes:
        result: its name in the corpus ("<publication date> <sponsor> <system>").
        system: the sponsor and system under test.
        published: publication date, ISO.
        cpu: the CPU name as the page gives it.
        chips: CPU sockets populated.
        cores: CPU cores in all.
        threads: hardware threads in all.
        memory_gb: memory installed.
        watts: average wall power at each of `LOADS`.
    """

    result: str
    system: str
    published: str
    cpu: str
    chips: int
    cores: int
    threads: int
    memory_gb: float
    watts: tuple[float, ...]

    def per_thread(self) -> np.ndarray:
        """Return watts per hardware thread at each of `LOADS`."""
        return np.asarray(self.watts) / self.threads


@dataclass(frozen=True)
class CurveRow:
    """One group's row of the table (see the module docstring)."""

    group: Group
    results: int
    err_median_pct: float | None
    err_p90_pct: float | None
    thread_w: tuple[float, ...]
    thread_low_w: tuple[float, ...]
    thread_high_w: tuple[float, ...]
    socket_w: tuple[float, ...]


def group_curve(members: Sequence[SpecResult]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (median, low, high) per-thread curves of `members` at each of `LOADS`.

    The band is the median widened by the group's own measured error: at each level,
    median x (1 -/+ the `BAND_QUANTILE` of its members' leave-one-out errors). A single
    result has no measured error and gets no band (low = high = median).
    """
    median = _median(members)
    errors = loo_errors(members)
    if not len(errors):
        return median, median, median
    spread = np.percentile(errors, BAND_QUANTILE, axis=0) / 100
    return median, np.maximum(0.0, median * (1 - spread)), median * (1 + spread)


def _median(members: Sequence[SpecResult]) -> np.ndarray:
    median: np.ndarray = np.median(np.array([m.per_thread() for m in members]), axis=0)
    return median


def loo_errors(members: Sequence[SpecResult]) -> np.ndarray:
    """Return each member's absolute error (% of published) at each level, one row a member.

    Each member is predicted by the others' median per-thread curve times its threads.
    """
    curves = np.array([m.per_thread() for m in members])
    rows = []
    for i, member in enumerate(members):
        if len(members) < 2:
            break
        median = np.median(np.delete(curves, i, axis=0), axis=0)
        truth = np.asarray(member.watts)
        rows.append(np.abs(median * member.threads - truth) / truth * 100)
    return np.array(rows).reshape(len(rows), len(LOADS))


def _row(group: Group, members: Sequence[SpecResult]) -> CurveRow:
    median, low, high = group_curve(members)
    socket = np.median(np.array([np.asarray(m.watts) / m.chips for m in members]), axis=0)
    errors = loo_errors(members)
    return CurveRow(
        group,
        len(members),
        float(np.median(errors)) if errors.size else None,
        float(np.percentile(errors, 90)) if errors.size else None,
        tuple(median.tolist()),
        tuple(low.tolist()),
        tuple(high.tolist()),
        tuple(socket.tolist()),
    )


def build_table(results: Iterable[SpecResult]) -> list[CurveRow]:
    """Return a row for every group with results, sorted by level then key."""
    members: dict[Group, list[SpecResult]] = defaultdict(list)
    for result in results:
        for group in cpu_groups(result.cpu):
            members[group].append(result)
    order = {"model": 0, "generation": 1, "family": 2, "vendor": 3, "all": 4}
    chosen = sorted(members, key=lambda g: (order[g.level], g.key))
    return [_row(group, members[group]) for group in chosen]


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.4g}"


def format_table(rows: Iterable[CurveRow]) -> str:
    """Return the table as CSV text (4 significant digits), header first."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(TABLE_FIELDS)
    for r in rows:
        stats = (r.err_median_pct, r.err_p90_pct)
        curves = (*r.thread_w, *r.thread_low_w, *r.thread_high_w, *r.socket_w)
        writer.writerow(
            [r.group.level, r.group.key, r.group.label, r.results]
            + [_num(v) for v in stats]
            + [_num(v) for v in curves]
        )
    return out.getvalue()


def _floats(row: dict[str, str], prefix: str) -> tuple[float, ...]:
    return tuple(float(row[f"{prefix}{p}"]) for p in _PCT)


def _optional(text: str) -> float | None:
    return float(text) if text else None


def parse_table(text: str) -> list[CurveRow]:
    """Parse `format_table`'s CSV back into rows.

    Raises:
        SpecTableError: a missing column or a bad number (the message names the row).
    """
    rows = []
    for line, row in enumerate(csv.DictReader(io.StringIO(text)), start=2):
        try:
            rows.append(
                CurveRow(
                    Group(row["level"], row["key"], row["label"]),
                    int(row["results"]),
                    _optional(row["err_median_pct"]),
                    _optional(row["err_p90_pct"]),
                    _floats(row, "thread_w"),
                    _floats(row, "thread_low_w"),
                    _floats(row, "thread_high_w"),
                    _floats(row, "socket_w"),
                )
            )
        except (KeyError, TypeError, ValueError) as err:
            raise SpecTableError(f"SPECpower curve table line {line}: {err}") from err
    return rows


def format_results(results: Iterable[SpecResult]) -> str:
    """Return parsed results as CSV text in `RESULT_FIELDS` order."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(RESULT_FIELDS)
    for r in results:
        head = [r.result, r.system, r.published, r.cpu, r.chips, r.cores, r.threads]
        writer.writerow([*head, f"{r.memory_gb:g}", *(f"{w:g}" for w in r.watts)])
    return out.getvalue()


def parse_results(text: str) -> list[SpecResult]:
    """Parse `format_results`'s CSV.

    Raises:
        SpecTableError: a missing column, a bad number or a non-positive count or power.
    """
    results = []
    for line, row in enumerate(csv.DictReader(io.StringIO(text)), start=2):
        try:
            result = SpecResult(
                row["result"],
                row["system"],
                row["published"],
                row["cpu"],
                int(row["chips"]),
                int(row["cores"]),
                int(row["threads"]),
                float(row["memory_gb"]),
                _floats(row, "w"),
            )
        except (KeyError, TypeError, ValueError) as err:
            raise SpecTableError(f"SPECpower results line {line}: {err}") from err
        if min(result.chips, result.threads, *result.watts) <= 0:
            raise SpecTableError(f"SPECpower results line {line}: counts and watts must be > 0")
        results.append(result)
    return results
