"""Running jobs' energy so far: `finwatt exec` writes it, `finwatt serve` exports it.

`exec` rewrites `<database folder>/running-jobs/<run>.json` (atomically: a temporary
file renamed over it) every `EVERY_S` seconds (longer when the figure is slow to
compute, `JobProgress.on_tick`) with the job's attributed energy so far (the same
figure `exec` stores at the end, computed over the ticks so far), and once
more with the final figure when the job ends. The exporter reads the folder at each
scrape (`read_running`), bounded: at most `MAX_FILES` files of at most `MAX_BYTES` each,
a file that is not a regular file or not the expected JSON is skipped. A finished job's
file is kept `KEEP_ENDED_S` so a scrape sees the final figure, then removed by the next
`exec` that ends; a running job's file not rewritten for `STALE_S` (its `exec` was
killed) is ignored.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict
from pathlib import Path

from profiler.files.small_files import SmallFileError, read_small_text
from profiler.model.job import JobRecord
from profiler.model.running_job import RunningJob
from profiler.model.samples import Tick
from profiler.settings.config import Settings

FOLDER = "running-jobs"
EVERY_S = 5.0
MAX_FILES = 256
MAX_BYTES = 16 * 1024
KEEP_ENDED_S = 300.0
STALE_S = 600.0


def progress_folder(settings: Settings) -> Path:
    """Return the folder of the running jobs' files, beside the database."""
    return settings.db_path.parent / FOLDER


class JobProgress:
    """A tick sink that writes the job's energy so far every `every_s` seconds.

    Args:
        folder: `progress_folder(settings)`.
        tags: the job's tags.
        every_s: seconds between two writes.
    """

    def __init__(self, folder: Path, tags: Mapping[str, str], every_s: float = EVERY_S) -> None:
        self._folder = folder
        self._tags = dict(tags)
        self._every_s = every_s
        self._figure: Callable[[], JobRecord] | None = None
        self._run_id = ""
        self._started_s = time.time()
        self._last = float("-inf")
        self._period_s = every_s
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def begin(self, run_id: str, figure: Callable[[], JobRecord]) -> None:
        """Start writing for `run_id`; `figure` returns the job's record so far."""
        self._run_id, self._figure = run_id, figure
        self._started_s = time.time()

    def on_tick(self, tick: Tick) -> None:
        """Start a write of the figure so far when it is due (called on the sampler thread).

        The figure is computed on a thread of its own (it sums every tick so far: ~1.5 s
        for 100,000 ticks), never on the sampler's; the next write is due after
        `every_s`, or 20 times the last computation's time when that is longer, so it
        costs at most ~5 % of a core however long the job runs.
        """
        figure = self._figure
        busy = self._thread is not None and self._thread.is_alive()
        if figure is None or busy or tick.t - self._last < self._period_s:
            return
        self._last = tick.t
        self._thread = threading.Thread(
            target=self._update, args=(figure,), name="finwatt-job-progress", daemon=True
        )
        self._thread.start()

    def _update(self, figure: Callable[[], JobRecord]) -> None:
        started = time.monotonic()
        job = figure()
        self._period_s = max(self._every_s, 20.0 * (time.monotonic() - started))
        with self._lock:
            if self._figure is not None:  # not ended meanwhile: the final figure wins
                self._write(job.energy_j or 0.0, job.provenance, ended=False)

    def end(self, job: JobRecord | None) -> None:
        """Write the final figure (None: the job did not run; remove its file)."""
        with self._lock:
            self._figure = None
        if not self._run_id:
            return
        try:
            if job is None:
                (self._folder / f"{self._run_id}.json").unlink(missing_ok=True)
            else:
                self._write(job.energy_j or 0.0, job.provenance, ended=True)
            _sweep(self._folder, time.time())
        except OSError:
            return  # another user's file, a read-only folder: the stored job is the record

    def _write(self, energy_j: float, provenance: str | None, *, ended: bool) -> None:
        record = RunningJob(
            self._run_id, self._started_s, time.time(), energy_j, provenance, self._tags, ended
        )
        try:
            self._folder.mkdir(mode=0o755, parents=True, exist_ok=True)
            fd, temporary = tempfile.mkstemp(dir=self._folder, prefix=".job-", suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(asdict(record), out)
            Path(temporary).chmod(0o644)
            Path(temporary).replace(self._folder / f"{self._run_id}.json")
        except OSError:
            return  # the figure so far is a courtesy; the stored job is the record


def _sweep(folder: Path, now_s: float) -> None:
    for job in read_running(folder, now_s, keep_ended_s=0.0, include_old=True):
        if job.ended and now_s - job.updated_s > KEEP_ENDED_S:
            (folder / f"{job.run_id}.json").unlink(missing_ok=True)


def read_running(
    folder: Path, now_s: float, *, keep_ended_s: float = KEEP_ENDED_S, include_old: bool = False
) -> list[RunningJob]:
    """Return the jobs running now, and those ended in the last `keep_ended_s` seconds."""
    try:
        names = sorted(p for p in folder.iterdir() if p.suffix == ".json")[:MAX_FILES]
    except OSError:
        return []
    jobs = []
    for path in names:
        job = _parse(path)
        if job is None or job.run_id != path.stem:
            continue
        age_s = now_s - job.updated_s
        if include_old or age_s <= (keep_ended_s if job.ended else STALE_S):
            jobs.append(job)
    return jobs


def _parse(path: Path) -> RunningJob | None:
    try:
        doc = json.loads(read_small_text(path, max_bytes=MAX_BYTES))
        tags = doc["tags"]
        if not isinstance(tags, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in tags.items()
        ):
            return None
        provenance = doc["provenance"]
        return RunningJob(
            run_id=str(doc["run_id"]),
            started_s=float(doc["started_s"]),
            updated_s=float(doc["updated_s"]),
            energy_j=float(doc["energy_j"]),
            provenance=provenance if isinstance(provenance, str) else None,
            tags=tags,
            ended=doc["ended"] is True,
        )
    except (SmallFileError, ValueError, KeyError, TypeError):
        return None
