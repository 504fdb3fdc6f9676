"""Log lines on stderr for people and for log shippers (`--log-format text|json`).

Warnings, the scheduler's log and the progress of a run without a terminal all go
through `logging` to one stderr handler, formatted here:

- `text` (default): `finwatt: warning: <message>` for warnings and errors, and
  `finwatt: <time> <message>` for progress and the scheduler's log; control characters
  in the message (a label, a host name) show as visible escapes (`model.text.printable`),
  so a line stays one line and cannot drive the terminal;
- `json`: one JSON object per line, `{"timestamp", "level", "event", "message",
  "run_id", ...}`, that journald, Loki or Splunk index without a parsing rule.
  `event` is a stable name (`phase_start`, `phase_done`, `heartbeat`, `fire`,
  `fire_result`, `scheduler_start`, ...); other `extra` fields are copied as they are.
  JSON escapes control characters itself; DEL, C1 and the bidi overrides are escaped too.

It lives in the CLI layer because it decides what the process prints; the workflows
and the scheduler only log records (with `extra={"event": ..., "run_id": ...}`; a
run's progress lines: `profiler.workflows.run_log.LineProgress`).
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Literal, TextIO

from profiler.model.text import printable

LogFormat = Literal["text", "json"]
LOG_FORMATS: tuple[LogFormat, ...] = ("text", "json")

_STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
_log_format: LogFormat = "text"
_JSON_ESCAPES = (
    {code: f"\\u{code:04x}" for code in range(0x7F, 0xA0) if not chr(code).isprintable()}
    | {code: f"\\u{code:04x}" for code in (0x061C, 0x200E, 0x200F, 0x2028, 0x2029)}
    | {code: f"\\u{code:04x}" for code in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))}
)
"""Characters `json.dumps(ensure_ascii=False)` leaves raw that a terminal would act on."""


def _timestamp(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonFormatter(logging.Formatter):
    """One JSON object per record: timestamp, level, event, message, run id, extras."""

    def format(self, record: logging.LogRecord) -> str:
        """Return `record` as one line of JSON."""
        document: dict[str, object] = {
            "timestamp": _timestamp(record),
            "level": record.levelname.lower(),
            "event": getattr(record, "event", "log"),
            "message": record.getMessage(),
            "run_id": getattr(record, "run_id", None),
            "logger": record.name,
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in document:
                document[key] = value if isinstance(value, str | int | float | bool) else str(value)
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        # JSON escapes C0 itself; DEL, C1 and bidi overrides it leaves raw (hostile input)
        return json.dumps(document, ensure_ascii=False).translate(_JSON_ESCAPES)


class TextFormatter(logging.Formatter):
    """`finwatt: warning: ...` for warnings; `finwatt: <UTC time> ...` for information."""

    def format(self, record: logging.LogRecord) -> str:
        """Return `record` as one line of text (plus a traceback, if it carries one)."""
        message = record.getMessage()
        if record.levelno >= logging.WARNING:
            line = f"finwatt: {record.levelname.lower()}: {printable(message)}"
        else:
            line = f"finwatt: {_timestamp(record)} {printable(message)}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class TimedTextFormatter(logging.Formatter):
    """`<local time> finwatt <LEVEL>: <message>` (the scheduler's log), message escaped."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s finwatt %(levelname)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        """Return the line with the message's control characters escaped."""
        return printable(super().formatMessage(record))


def formatter(log_format: LogFormat | None = None) -> logging.Formatter:
    """Return the formatter of `log_format` (default: the process's `--log-format`)."""
    return JsonFormatter() if (log_format or _log_format) == "json" else TextFormatter()


def log_format() -> LogFormat:
    """Return the process's log format (`finwatt --log-format`)."""
    return _log_format


def configure_logging(log_format: LogFormat = "text", stream: TextIO | None = None) -> None:
    """Send warnings (and the loggers that ask for INFO) to stderr in `log_format`.

    Replaces the handler an earlier call added (others, e.g. pytest's, stay), so calling
    it again switches the format.
    """
    global _log_format  # one process-wide choice, set by the CLI's global option
    _log_format = log_format
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, _FinwattHandler):
            root.removeHandler(handler)
    handler = _FinwattHandler(stream or sys.stderr)
    handler.setFormatter(formatter(log_format))
    root.addHandler(handler)
    root.setLevel(logging.WARNING)


class _FinwattHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The stderr handler `configure_logging` adds (and replaces)."""
