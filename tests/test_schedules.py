"""Schedule expressions are checked at render time the way EventBridge checks them."""

import pytest

from generator.aws.schedules import validate_schedule_expression, validate_timezone
from generator.core.errors import UserError


@pytest.mark.parametrize("expression", [
    "cron(0 2 * * ? *)",
    "cron(20 2 * * ? *)",
    "cron(0/15 * ? * MON-FRI *)",
    "cron(0 18 ? * MON-FRI *)",
    "cron(0 8 1 * ? *)",
    "cron(15 10 ? * 6L 2022-2023)",
    "cron(0 9 ? * 2#1 *)",
    "cron(0 0 L * ? *)",
    "cron(0 0 15W * ? *)",
    "cron(5,35 14 * JAN,JUL ? *)",
    "rate(1 minute)",
    "rate(5 minutes)",
    "rate(1 day)",
    "rate(12 hours)",
])
def test_valid_expressions_pass(expression):
    assert validate_schedule_expression(expression) == expression


@pytest.mark.parametrize("expression, message", [
    ("cron(0 2 * * *)", "has 5 fields; EventBridge cron has 6"),
    ("cron(0 2 * * * *)", "exactly one of day-of-month (*) and day-of-week (*) must be '?'"),
    ("cron(0 2 ? * ? *)", "exactly one of day-of-month"),
    ("cron(60 2 * * ? *)", "minutes field '60': 60 is outside 0-59"),
    ("cron(0 24 * * ? *)", "hours field '24'"),
    ("cron(0 2 32 * ? *)", "day-of-month field '32'"),
    ("cron(0 2 * 13 ? *)", "month field '13'"),
    ("cron(0 2 ? * 8 *)", "day-of-week field '8'"),
    ("cron(0 2 * * ? 1969)", "year field '1969'"),
    ("cron(0 2 * FOO ? *)", "'FOO' is not a number or name"),
    ("cron(0 10-5 * * ? *)", "range 10-5 runs backwards"),
    ("cron(0/0 2 * * ? *)", "step '0' must be a positive number"),
    ("cron(? 2 * * ? *)", "only allowed in day-of-month or day-of-week"),
    # items after a special one (L, W, #) are checked too
    ("cron(0 2 L,40 * ? *)", "day-of-month field 'L,40': 40 is outside"),
    ("cron(0 2 ? * MON#1,FOO *)", "day-of-week field 'MON#1,FOO': 'FOO' is not a number or name"),
    ("rate(0 minutes)", "must be a positive whole number"),
    ("rate(1 minutes)", "the unit must be 'minute'"),
    ("rate(5 minute)", "the unit must be 'minutes'"),
    ("rate(5 weeks)", "is not a rate"),
    ("every day", "is not a schedule"),
])
def test_invalid_expressions_say_what_is_wrong(expression, message):
    with pytest.raises(UserError) as error:
        validate_schedule_expression(expression)
    assert error.value.field == "schedule"
    assert message in error.value.message


@pytest.mark.parametrize("zone", ["Asia/Tokyo", "Europe/Paris", "America/Argentina/Buenos_Aires", "UTC"])
def test_iana_time_zones_pass(zone):
    assert validate_timezone(zone) == zone


@pytest.mark.parametrize("zone", ["Asia/Tokio", "JST", "Mars/Olympus", "+09:00", "", "Japan", "EST5EDT"])
def test_other_time_zones_fail(zone):
    with pytest.raises(UserError) as error:
        validate_timezone(zone)
    assert error.value.field == "timezone"
    assert "allowed: an Area/Location name like Asia/Tokyo or Europe/Paris, or UTC" in error.value.message
