"""Wall power vs its parts as lines for people: the monitor summary and `analyze`."""

from __future__ import annotations

from typing import Any


def reconciliation_lines(balance: dict[str, Any]) -> list[str]:
    """Return the summary lines of a reconciliation document (`Reconciliation.as_dict`)."""
    total = balance["total"]
    parts = " + ".join(f"{kind} {watts:.1f} W" for kind, watts in total["parts_w"].items())
    pct = total["remainder_pct"]
    share = f" ({pct:.1f} % of wall)" if pct is not None else ""
    label = "ESTIMATE " if balance["estimated"] else ""
    intervals = balance["intervals"]
    lines = [
        f"{label}wall power {total['wall_w']:.1f} W "
        f"({balance['wall_provenance'] or 'no provenance'}) = {parts} + unexplained "
        f"{total['remainder_w']:.1f} W{share}",
        f"  unexplained = PSU loss, fans, disks, NICs, board; over {len(intervals)} "
        f"interval(s) of {balance['interval_s']:g} s",
    ]
    if len(intervals) > 1:
        remainders = [b["remainder_w"] for b in intervals]
        lines.append(
            f"  per interval: unexplained {min(remainders):.1f} W to {max(remainders):.1f} W"
        )
    lines.extend(f"  note: {note}" for note in balance["notes"])
    return lines
