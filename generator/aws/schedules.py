"""Schedule expressions, checked at render time the way EventBridge would check them at deploy.

https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-scheduled-rule-pattern.html
https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html
"""

from __future__ import annotations

import calendar
import functools
import datetime as dt
import re
from dataclasses import dataclass

from generator.core.errors import UserError, quoted
from generator.core.options import ascii_fullmatch

MONTHS = "JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split()
WEEKDAYS = "SUN MON TUE WED THU FRI SAT".split()


@dataclass(frozen=True)
class _CronField:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()

    def value(self, text: str) -> int:
        upper = text.upper()
        if upper in self.names:
            return self.names.index(upper) + self.low
        if not (text.isascii() and text.isdigit()):
            raise ValueError(f"{text!r} is not a number{' or name' if self.names else ''}")
        number = int(text)
        if not self.low <= number <= self.high:
            raise ValueError(f"{number} is outside {self.low}-{self.high}")
        return number


CRON_FIELDS = (
    _CronField("minutes", 0, 59),
    _CronField("hours", 0, 23),
    _CronField("day-of-month", 1, 31),
    _CronField("month", 1, 12, tuple(MONTHS)),
    _CronField("day-of-week", 1, 7, tuple(WEEKDAYS)),
    _CronField("year", 1970, 2199),
)
_DAY_OF_MONTH_SPECIAL = re.compile(r"^(L|LW|\d{1,2}W)$")
_DAY_OF_WEEK_SPECIAL = re.compile(r"^(L|[1-7]L|[1-7]#[1-5]|[A-Za-z]{3}#[1-5])$")
_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_CRON = re.compile(r"^cron\((.*)\)$")


def validate_schedule_expression(expression: str) -> str:
    """Return the expression if EventBridge would accept it, else raise UserError (field: schedule)."""
    rate = ascii_fullmatch(_RATE, expression)
    if rate:
        value, unit = int(rate.group(1)), rate.group(2)
        if value < 1:
            raise UserError(f"{expression!r}: the rate must be a positive whole number", field="schedule")
        if (value == 1) == unit.endswith("s"):
            expected = unit.rstrip("s") if value == 1 else unit.rstrip("s") + "s"
            raise UserError(f"{expression!r}: with {value} the unit must be {expected!r}", field="schedule")
        return expression
    if expression.startswith("rate("):
        raise UserError(f"{expression!r} is not a rate; allowed: rate(<n> minute|minutes|hour|hours|day|days)", field="schedule")
    cron = ascii_fullmatch(_CRON, expression)
    if not cron:
        raise UserError(f"{expression!r} is not a schedule; allowed: cron(min hour day-of-month month day-of-week year) or rate(<n> <unit>)", field="schedule")
    fields = cron.group(1).split()
    if len(fields) != 6:
        raise UserError(
            f"{expression!r} has {len(fields)} fields; EventBridge cron has 6: minutes hours day-of-month month day-of-week year",
            field="schedule",
        )
    day_of_month, day_of_week = fields[2], fields[4]
    if (day_of_month == "?") == (day_of_week == "?"):
        raise UserError(
            f"{expression!r}: exactly one of day-of-month ({day_of_month}) and day-of-week ({day_of_week}) must be '?'",
            field="schedule",
        )
    for spec, text in zip(CRON_FIELDS, fields):
        try:
            _check_cron_field(spec, text)
        except ValueError as error:
            raise UserError(f"{expression!r}: {spec.name} field {text!r}: {error}", field="schedule") from None
    return expression


def _check_cron_field(spec: _CronField, text: str) -> None:
    if text == "?":
        if spec.name not in ("day-of-month", "day-of-week"):
            raise ValueError("'?' is only allowed in day-of-month or day-of-week")
        return
    for item in text.split(","):
        if not item:
            raise ValueError("empty list item")
        if spec.name == "day-of-month" and ascii_fullmatch(_DAY_OF_MONTH_SPECIAL, item):
            if item[:-1].isascii() and item[:-1].isdigit():
                spec.value(item[:-1])
            continue
        if spec.name == "day-of-week" and ascii_fullmatch(_DAY_OF_WEEK_SPECIAL, item):
            spec.value(re.split("[L#]", item)[0] or "1")
            continue
        base, _, step = item.partition("/")
        if step:
            if not (step.isascii() and step.isdigit()) or int(step) < 1:
                raise ValueError(f"step {step!r} must be a positive number")
        if base == "*":
            continue
        start, dash, end = base.partition("-")
        first = spec.value(start)
        if dash:
            last = spec.value(end)
            if last < first:
                raise ValueError(f"range {base} runs backwards")


@functools.cache
def _zone_names() -> frozenset[str]:
    from importlib import resources

    return frozenset(resources.files("tzdata").joinpath("zones").read_text(encoding="utf-8").split())


def validate_timezone(name: str) -> str:
    """An IANA time zone name, as EventBridge Scheduler's ScheduleExpressionTimezone takes: one of
    tzdata's zone names (its `zones` list), so `posix/…`/`right/…` copies and folder names such
    as America/Argentina are refused, and no path is ever opened for a name."""
    # Legacy aliases (Japan, EST5EDT, GMT) are IANA links too, but a name that says the place is
    # what a reviewer can check against the job's owners.
    if not isinstance(name, str) or name not in _zone_names() or ("/" not in name and name != "UTC"):
        raise UserError(f"{quoted(name)} is not an IANA time zone name; allowed: an Area/Location name like Asia/Tokyo or "
                        "Europe/Paris, or UTC", field="timezone")
    return name


# --- when a cron expression runs -------------------------------------------------------------
# Our own evaluator, so every expression the validator accepts can be previewed: pyawscron crashed
# on valid ones (`cron(0 12 31 * ? *)`, `LW`, Feb 29, a past year). Semantics from the EventBridge
# cron reference (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-scheduled-rule-pattern.html#eb-cron-expressions):
# day-of-week 1-7 is SUN-SAT; `L` is the last day of the month (day-of-month) or the last given
# weekday of the month (`5L`, day-of-week; `L` alone is Saturday, 7); `W` the weekday nearest the
# given day within the month (`LW` the last weekday); `#` the n-th given weekday of the month.

MAX_YEAR = 2199  # the year field's upper bound: nothing runs after it


def _expand(spec: _CronField, text: str) -> set[int]:
    values: set[int] = set()
    for item in text.split(","):
        base, _, step = item.partition("/")
        if base == "*":
            first, last = spec.low, spec.high
        else:
            start, dash, end = base.partition("-")
            first = spec.value(start)
            last = spec.value(end) if dash else (spec.high if step else first)
        values.update(range(first, last + 1, int(step) if step else 1))
    return values


def _aws_weekday(day: dt.date) -> int:
    return (day.weekday() + 1) % 7 + 1  # Python: Monday 0 … Sunday 6; cron: SUN 1 … SAT 7


def _nearest_weekday(year: int, month: int, day: int) -> int | None:
    last = calendar.monthrange(year, month)[1]
    if day > last:
        return None
    weekday = dt.date(year, month, day).weekday()
    if weekday == 5:  # Saturday → Friday, unless that leaves the month
        return day - 1 if day > 1 else day + 2
    if weekday == 6:  # Sunday → Monday, unless that leaves the month
        return day + 1 if day < last else day - 2
    return day


def _days_in_month(year: int, month: int, day_of_month: str, day_of_week: str) -> list[int]:
    last = calendar.monthrange(year, month)[1]
    days: set[int] = set()
    if day_of_month != "?":
        for item in day_of_month.split(","):
            if item == "L":
                days.add(last)
            elif item == "LW":
                days.add(_nearest_weekday(year, month, last))
            elif item.endswith("W"):
                nearest = _nearest_weekday(year, month, int(item[:-1]))
                if nearest is not None:
                    days.add(nearest)
            else:
                days.update(d for d in _expand(CRON_FIELDS[2], item) if d <= last)
    else:
        weekdays = {day: _aws_weekday(dt.date(year, month, day)) for day in range(1, last + 1)}
        for item in day_of_week.split(","):
            if item == "L":
                item = "7L"  # `L` alone in day-of-week is the last day of the week, Saturday
            if item.endswith("L"):
                wanted = CRON_FIELDS[4].value(item[:-1])
                days.add(max(day for day, weekday in weekdays.items() if weekday == wanted))
            elif "#" in item:
                name, _, nth = item.partition("#")
                wanted = CRON_FIELDS[4].value(name)
                matching = [day for day, weekday in weekdays.items() if weekday == wanted]
                if int(nth) <= len(matching):
                    days.add(matching[int(nth) - 1])
            else:
                allowed = _expand(CRON_FIELDS[4], item)
                days.update(day for day, weekday in weekdays.items() if weekday in allowed)
    return sorted(days)


def cron_local_times(expression: str, after: dt.datetime):
    """The wall-clock times (naive datetimes) at which a validated `cron(…)` expression fires,
    strictly after the naive wall-clock time `after`, in order; ends after the year 2199."""
    minutes_text, hours_text, day_of_month, month_text, day_of_week, year_text = expression[len("cron("):-1].split()
    minutes = sorted(_expand(CRON_FIELDS[0], minutes_text))
    hours = sorted(_expand(CRON_FIELDS[1], hours_text))
    months = _expand(CRON_FIELDS[3], month_text)
    years = sorted(year for year in _expand(CRON_FIELDS[5], year_text) if year >= after.year)
    for year in years:
        for month in range(1, 13):
            if month not in months or (year, month) < (after.year, after.month):
                continue
            for day in _days_in_month(year, month, day_of_month, day_of_week):
                if dt.date(year, month, day) < after.date():
                    continue
                for hour in hours:
                    for minute in minutes:
                        moment = dt.datetime(year, month, day, hour, minute)
                        if moment > after:
                            yield moment
