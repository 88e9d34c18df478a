"""The daily data refresh schedule (UTC), so cacheable answers expire exactly when new data lands.

Format: ``DAYS HH:MM`` where DAYS is ``daily`` or a comma list of day names and ranges
(``Mon..Fri``, ``Mon-Fri``, ``Sat,Sun``), e.g. the default ``Mon..Fri 22:30`` which matches the
refresh timer's ``OnCalendar=Mon..Fri *-*-* 22:30:00 UTC``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class Schedule:
    weekdays: frozenset[int]  # 0 = Monday
    hour: int
    minute: int

    def next_after(self, now: datetime) -> datetime:
        """The first scheduled time strictly after ``now`` (an aware datetime)."""
        now = now.astimezone(UTC)
        for offset in range(8):
            day = (now + timedelta(days=offset)).replace(
                hour=self.hour, minute=self.minute, second=0, microsecond=0
            )
            if day > now and day.weekday() in self.weekdays:
                return day
        raise AssertionError("a non-empty weekday set always matches within 8 days")

    def seconds_until_next(self, now: datetime | None = None) -> int:
        now = now or datetime.now(UTC)
        return max(int((self.next_after(now) - now).total_seconds()), 0)


def _day(name: str) -> int:
    key = name.strip().lower()[:3]
    if key not in DAY_NAMES:
        raise ValueError(f"unknown day {name!r}")
    return DAY_NAMES.index(key)


def _days(spec: str) -> frozenset[int]:
    if spec.lower() == "daily":
        return frozenset(range(7))
    days: set[int] = set()
    for part in spec.split(","):
        lo, sep, hi = part.replace("..", "-").partition("-")
        if not sep:
            days.add(_day(lo))
            continue
        a, b = _day(lo), _day(hi)
        days.update(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
    return frozenset(days)


def parse_schedule(text: str) -> Schedule:
    try:
        days, clock = text.split()
        hour, minute = (int(x) for x in clock.split(":"))
    except ValueError:
        raise ValueError(f"expected 'DAYS HH:MM' (e.g. 'Mon..Fri 22:30'), got {text!r}") from None
    if not (0 <= hour < 24 and 0 <= minute < 60):
        raise ValueError(f"no such time of day: {clock!r}")
    return Schedule(_days(days), hour, minute)
