"""A moment of a run as a time of day in the app's time mode ("14:02:11", "14:02:11Z"), with
the date when it is not today's: for the detail's containers and usage peaks."""

from __future__ import annotations

from datetime import datetime

from tui.formatting import UNKNOWN_TIME, TimeMode, as_local, as_utc, format_relative


def clock_text(dt: datetime | None, mode: TimeMode, now: datetime, *,
               seconds: bool = True) -> str:
    """UTC mode: UTC with a "Z"; local and relative modes: the local time (as the detail's
    times are read first). "-" when unknown, "?" when off the calendar."""
    if dt is None:
        return "-"
    utc, today = as_utc(dt), as_utc(now)
    if utc is None:
        return UNKNOWN_TIME
    shown, suffix = utc, "Z"
    if mode is not TimeMode.UTC:
        local = as_local(utc)
        if local is not None:
            shown, suffix = local, ""
            today = as_local(today) if today is not None else None
    text = f"{shown.hour:02d}:{shown.minute:02d}" + (f":{shown.second:02d}" if seconds else "")
    if today is None or today.date() != shown.date():
        text = f"{shown.year:04d}-{shown.month:02d}-{shown.day:02d} {text}"
    return text + suffix


def ago_text(dt: datetime | None, now: datetime) -> str | None:
    """"1h 02m ago" (the run list's relative style), or None when unknown."""
    start, current = (as_utc(dt) if dt is not None else None), as_utc(now)
    if start is None or current is None:
        return None
    return format_relative(current - start)


__all__ = ["ago_text", "clock_text"]
