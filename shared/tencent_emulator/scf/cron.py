"""The 7-field cron of SCF timer triggers: ``sec min hour day-of-month month day-of-week year``.

Supported per field: ``*``, ``?`` (day fields), numbers, ``a-b``, lists ``a,b``, steps ``*/n``,
``a/n``, ``a-b/n``, month names ``JAN``..``DEC`` and weekday names ``SUN``..``SAT`` (0 = Sunday).
``L``, ``W`` and ``#`` are refused. The schedule is read in Beijing time (UTC+8), the SCF
console's zone; see FIDELITY.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Optional

TZ = timezone(timedelta(hours=8))
MONTHS = {m: i + 1 for i, m in enumerate("JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split())}
WEEKDAYS = {d: i for i, d in enumerate("SUN MON TUE WED THU FRI SAT".split())}
RANGES = [(0, 59), (0, 59), (0, 23), (1, 31), (1, 12), (0, 6), (1970, 2099)]
SEARCH_DAYS = 366 * 5


class CronError(ValueError):
    """A cron expression the timer trigger would refuse."""


def _field(text: str, lo: int, hi: int, names: Optional[dict[str, int]]) -> frozenset[int]:
    out: set[int] = set()
    for part in text.split(","):
        if not part:
            raise CronError(f"empty list item in {text!r}")
        base, _, step_s = part.partition("/")
        step = 1
        if step_s:
            if not step_s.isdigit() or int(step_s) == 0:
                raise CronError(f"bad step in {part!r}")
            step = int(step_s)
        if base in ("*", "?"):
            start, end = lo, hi
        else:
            a, _, b = base.partition("-")
            start = _value(a, names)
            end = _value(b, names) if b else (hi if step_s else start)
        if not (lo <= start <= hi and lo <= end <= hi and start <= end):
            raise CronError(f"{part!r} is outside {lo}-{hi}")
        out.update(range(start, end + 1, step))
    return frozenset(out)


def _value(text: str, names: Optional[dict[str, int]]) -> int:
    if text.isdigit():
        return int(text)
    if names and text.upper() in names:
        return names[text.upper()]
    raise CronError(f"unsupported cron value {text!r}")


@dataclass(frozen=True)
class CronExpression:
    text: str
    seconds: frozenset[int]
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    years: frozenset[int]
    any_day: bool
    any_weekday: bool

    @classmethod
    def parse(cls, text: str) -> CronExpression:
        fields = text.split()
        if len(fields) != 7:
            raise CronError(f"{text!r} must have 7 fields: sec min hour day month week year")
        names: list[Optional[dict[str, int]]] = [None, None, None, None, MONTHS, WEEKDAYS, None]
        sets = [_field(f, lo, hi, n) for f, (lo, hi), n in zip(fields, RANGES, names)]
        sec, mins, hours, days, months, weekdays, years = sets
        return cls(
            text,
            sec,
            mins,
            hours,
            days,
            months,
            weekdays,
            years,
            any_day=fields[3] in ("*", "?"),
            any_weekday=fields[5] in ("*", "?"),
        )

    def _day_matches(self, d: datetime) -> bool:
        weekday = (d.weekday() + 1) % 7  # Python: Monday=0; cron: Sunday=0
        return (
            d.year in self.years
            and d.month in self.months
            and (self.any_day or d.day in self.days)
            and (self.any_weekday or weekday in self.weekdays)
        )

    def next_after(self, ts: float) -> Optional[float]:
        """The first firing time strictly after ``ts`` (epoch seconds), or None within five years."""
        start = datetime.fromtimestamp(int(ts) + 1, tz=TZ)
        day = start.replace(hour=0, minute=0, second=0)
        secs, mins, hours = sorted(self.seconds), sorted(self.minutes), sorted(self.hours)
        for _ in range(SEARCH_DAYS):
            if self._day_matches(day):
                for h in hours:
                    if day.date() == start.date() and h < start.hour:
                        continue
                    for m in mins:
                        for s in secs:
                            cand = day.replace(hour=h, minute=m, second=s)
                            if cand >= start:
                                return cand.timestamp()
            day = (day + timedelta(days=1)).replace(hour=0, minute=0, second=0)
        return None
