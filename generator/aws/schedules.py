"""Schedule expressions, checked at render time the way EventBridge would check them at deploy.

https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-scheduled-rule-pattern.html
https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from generator.core.errors import UserError
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
        if not text.isdigit():
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
            if item[:-1].isdigit():
                spec.value(item[:-1])
            continue
        if spec.name == "day-of-week" and ascii_fullmatch(_DAY_OF_WEEK_SPECIAL, item):
            spec.value(re.split("[L#]", item)[0] or "1")
            continue
        base, _, step = item.partition("/")
        if step:
            if not step.isdigit() or int(step) < 1:
                raise ValueError(f"step {step!r} must be a positive number")
        if base == "*":
            continue
        start, dash, end = base.partition("-")
        first = spec.value(start)
        if dash:
            last = spec.value(end)
            if last < first:
                raise ValueError(f"range {base} runs backwards")


def validate_timezone(name: str) -> str:
    """An IANA time zone name, as EventBridge Scheduler's ScheduleExpressionTimezone takes."""
    try:
        # Legacy aliases (Japan, EST5EDT, GMT) are IANA links too, but a name that says the place
        # is what a reviewer can check against the job's owners.
        if "/" not in name and name != "UTC":
            raise ZoneInfoNotFoundError(name)
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UserError(f"{name!r} is not an IANA time zone name; allowed: an Area/Location name like Asia/Tokyo or Europe/Paris, or UTC", field="timezone") from None
    return name
