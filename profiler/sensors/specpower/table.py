"""The shipped SPECpower curve table, derived from parsed SPECpower_ssj2008 results.

A result is one published SPECpower_ssj2008 run: the server's average wall power at
active idle and at 10 % ... 100 % target load, its CPU name, chips, cores, threads and
memory. For every group of `groups.cpu_groups` with results the table holds the group's
curve as a function of threads (`fit`: median watts per thread, or a power law in threads
for coarse groups), a low/high band (see `group_curve`), the median per-socket curve, and
the group's leave-one-out error: each of its results predicted by the fit over the
others, the absolute error in percent of the published power over all levels (median,
90th percentile). Building is deterministic: the same results give the
same table text (`tests/profiler/sensors/test_specpower_table.py` rebuilds it).
"""

from __future__ import annotations

import csv
import dataclasses
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
POWER_LAW_LEVELS = ("family", "vendor", "all")
"""Group levels whose curve is a power law in threads, not per thread (`fit`)."""
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
TABLE_FIELDS += ("ref_threads", *(f"ref_w{p}" for p in _PCT))
TABLE_FIELDS += tuple(f"ref_low_w{p}" for p in _PCT) + tuple(f"ref_high_w{p}" for p in _PCT)
TABLE_FIELDS += tuple(f"exponent{p}" for p in _PCT) + tuple(f"socket_w{p}" for p in _PCT)


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
    """One group's row of the table (see the module docstring).

    A server with t >= ref_threads threads draws ref_w x (t / ref_threads) ^ exponent at
    each level, fewer threads their share of a ref_threads server (`scale`): per-thread
    scaling (ref_threads 1, exponent 1) for model and generation groups, a power law
    fitted over the group's thread counts for the coarser ones (`fit`).
    """

    group: Group
    results: int
    err_median_pct: float | None
    err_p90_pct: float | None
    ref_threads: float
    ref_w: tuple[float, ...]
    ref_low_w: tuple[float, ...]
    ref_high_w: tuple[float, ...]
    exponent: tuple[float, ...]
    socket_w: tuple[float, ...]

    def watts(self, threads: float, curve: Sequence[float] | None = None) -> np.ndarray:
        """Return watts at each of `LOADS` for `threads` threads (median, or `curve`)."""
        ref = np.asarray(self.ref_w if curve is None else curve)
        return scale(ref, self.ref_threads, np.asarray(self.exponent), threads)


def scale(
    ref_w: np.ndarray, ref_threads: float, exponent: np.ndarray, threads: float
) -> np.ndarray:
    """Return a group's watts at each level for `threads` threads.

    At or above the group's reference size the fit applies; below it (a VM's few vCPUs,
    mostly) the threads' share of a reference-size server: a VM's 2 vCPUs are a share of
    a big host, not a 2-thread server with a whole server's fixed power.
    """
    at = max(threads, ref_threads)
    scaled: np.ndarray = ref_w * (at / ref_threads) ** exponent * (threads / at)
    return scaled


def fit(members: Sequence[SpecResult], level: str) -> tuple[float, np.ndarray, np.ndarray]:
    """Return (ref_threads, ref_w, exponent) of a group's members.

    Model and generation groups (and any group of one thread count) scale per thread:
    the median watts per thread. Family, vendor and all results span servers of 4 to 256
    threads whose power does not grow in proportion; for them log watts is fitted
    against log threads at each level (least squares), ref_threads the geometric mean.
    """
    threads = np.log([m.threads for m in members])
    if level not in POWER_LAW_LEVELS or np.ptp(threads) == 0:
        median = np.median(np.array([m.per_thread() for m in members]), axis=0)
        return 1.0, median, np.ones(len(LOADS))
    watts = np.log(np.array([m.watts for m in members]))
    centred = threads - threads.mean()
    exponent = centred @ (watts - watts.mean(axis=0)) / (centred @ centred)
    return float(np.exp(threads.mean())), np.exp(watts.mean(axis=0)), exponent


def loo_errors(members: Sequence[SpecResult], level: str) -> np.ndarray:
    """Return each member's absolute error (% of published) at each level, one row a member.

    Each member is predicted by `fit` over the others.
    """
    rows = []
    for i, member in enumerate(members):
        if len(members) < 2:
            break
        ref, ref_w, exponent = fit([m for j, m in enumerate(members) if j != i], level)
        truth = np.asarray(member.watts)
        predicted = scale(ref_w, ref, exponent, member.threads)
        rows.append(np.abs(predicted - truth) / truth * 100)
    return np.array(rows).reshape(len(rows), len(LOADS))


def group_curve(members: Sequence[SpecResult], level: str) -> CurveRow:
    """Return the row of a group: its fit, band and leave-one-out error.

    The band is the fit widened by the group's own measured error: at each level,
    ref_w x (1 -/+ the `BAND_QUANTILE` of its members' leave-one-out errors). A single
    result has no measured error and gets no band (low = high = ref_w).
    """
    ref, ref_w, exponent = fit(members, level)
    errors = loo_errors(members, level)
    spread = np.percentile(errors, BAND_QUANTILE, axis=0) / 100 if errors.size else 0.0
    socket = np.median(np.array([np.asarray(m.watts) / m.chips for m in members]), axis=0)
    return CurveRow(
        Group(level, "", ""),
        len(members),
        float(np.median(errors)) if errors.size else None,
        float(np.percentile(errors, 90)) if errors.size else None,
        ref,
        tuple(ref_w.tolist()),
        tuple(np.maximum(0.0, ref_w * (1 - spread)).tolist()),
        tuple((ref_w * (1 + spread)).tolist()),
        tuple(np.asarray(exponent).tolist()),
        tuple(socket.tolist()),
    )


def _row(group: Group, members: Sequence[SpecResult]) -> CurveRow:
    return dataclasses.replace(group_curve(members, group.level), group=group)


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
        curves = (r.ref_threads, *r.ref_w, *r.ref_low_w, *r.ref_high_w, *r.exponent, *r.socket_w)
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
                    float(row["ref_threads"]),
                    _floats(row, "ref_w"),
                    _floats(row, "ref_low_w"),
                    _floats(row, "ref_high_w"),
                    _floats(row, "exponent"),
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
