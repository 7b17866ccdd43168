"""Schedule expressions against AWS's documented cron rules and against cfn-lint's E3027, on one table.

AWS's rules (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-scheduled-rule-pattern.html):
six fields; minutes 0-59, hours 0-23, day-of-month 1-31, month 1-12 or JAN-DEC, day-of-week 1-7 or
SUN-SAT, year 1970-2199; `?` in exactly one of day-of-month and day-of-week; wildcards `, - * /`,
`L` and `W` in day-of-month, `L` and `#` in day-of-week. cfn-lint's E3027 checks less (the field
count and `*` in both day fields), so where the two differ the table says why ours refuses.
Every expression we accept must also preview (next runs) without error.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from generator.aws.schedules import validate_schedule_expression
from generator.core.errors import UserError
from generator.review.describe import run_times

OK, BAD = True, False
# (expression, ours, cfn-lint E3027, why they differ or what it checks)
TABLE = [
    ("cron(0 12 * * ? *)", OK, OK, "every day at noon"),
    ("cron(0 12 31 * ? *)", OK, OK, "day 31: only months that have one"),
    ("cron(0 12 30 * ? *)", OK, OK, "day 30: not February"),
    ("cron(0 12 29 * ? *)", OK, OK, "day 29"),
    ("cron(0 12 29 2 ? *)", OK, OK, "Feb 29: leap years only"),
    ("cron(0 12 L * ? *)", OK, OK, "last day of the month"),
    ("cron(0 12 LW * ? *)", OK, OK, "last weekday of the month"),
    ("cron(0 12 15W * ? *)", OK, OK, "weekday nearest the 15th"),
    ("cron(0 12 1W * ? *)", OK, OK, "weekday nearest the 1st, within the month"),
    ("cron(0 12 31W * ? *)", OK, OK, "weekday nearest the 31st, months with 31 days"),
    ("cron(0 12 ? * 6#3 *)", OK, OK, "third Friday"),
    ("cron(0 12 ? * FRI#3 *)", OK, OK, "third Friday, by name"),
    ("cron(0 12 ? * 6L *)", OK, OK, "last Friday"),
    ("cron(0 12 ? * L *)", OK, OK, "L alone in day-of-week: Saturday"),
    ("cron(0 12 1 1 ? 2001)", OK, OK, "a past year: valid, never runs"),
    ("cron(0 12 1 1 ? 2199)", OK, OK, "the last year allowed"),
    ("cron(0 12 1 1 ? 2200)", BAD, OK, "year past 2199"),
    ("cron(0 12 1 1 ? 1969)", BAD, OK, "year before 1970"),
    ("cron(0/15 * * * ? *)", OK, OK, "every 15 minutes"),
    ("cron(*/5 8-17 ? * MON-FRI *)", OK, OK, "step from *, weekday range"),
    ("cron(0 8,12,18 ? * MON,WED,FRI *)", OK, OK, "lists"),
    ("cron(0 1-5/2 ? * 2-6 *)", OK, OK, "a stepped range"),
    ("cron(0 0 1,15,L * ? *)", OK, OK, "L in a list"),
    ("cron(0 12 * JAN-MAR ? *)", OK, OK, "month names"),
    ("cron(0 12 * 1/3 ? *)", OK, OK, "quarterly"),
    ("cron(0 12 ? * SUN *)", OK, OK, "Sunday by name"),
    ("cron(0 12 ? * 1 *)", OK, OK, "1 is Sunday"),
    ("cron(0 12 ? * 7 *)", OK, OK, "7 is Saturday"),
    ("cron(0 12 ? * 8 *)", BAD, OK, "day-of-week past 7"),
    ("cron(0 12 ? * 0 *)", BAD, OK, "day-of-week 0 (Unix cron's Sunday) is not AWS's"),
    ("cron(60 12 * * ? *)", BAD, OK, "minute 60"),
    ("cron(0 24 * * ? *)", BAD, OK, "hour 24"),
    ("cron(0 12 32 * ? *)", BAD, OK, "day 32"),
    ("cron(0 12 0 * ? *)", BAD, OK, "day 0"),
    ("cron(0 12 * 13 ? *)", BAD, OK, "month 13"),
    ("cron(0 12 * 0 ? *)", BAD, OK, "month 0"),
    ("cron(0 12 * * * *)", BAD, BAD, "no ? in a day field"),
    ("cron(0 12 ? * ? *)", BAD, OK, "? in both day fields"),
    ("cron(0 12 * * ?)", BAD, BAD, "five fields"),
    ("cron(0 12 * * ? * *)", BAD, BAD, "seven fields"),
    ("cron(0 12 ? * 6#6 *)", BAD, OK, "# past the fifth"),
    ("cron(0 12 ? * 6#0 *)", BAD, OK, "#0"),
    ("cron(0 12 5-1 * ? *)", BAD, OK, "a range that runs backwards"),
    ("cron(0 12 */0 * ? *)", BAD, OK, "step 0"),
    ("cron(0 12 ,1 * ? *)", BAD, OK, "an empty list item"),
    ("cron(0 12 1, * ? *)", BAD, OK, "an empty list item at the end"),
    ("cron(? 12 * * ? *)", BAD, OK, "? in minutes"),
    ("cron(0 ? * * ? *)", BAD, OK, "? in hours"),
    ("cron(0 12 * ? ? *)", BAD, OK, "? in month"),
    ("cron(0 12 L-2 * ? *)", BAD, OK, "L-n is not in AWS's list of wildcards"),
    ("cron(0 12 W * ? *)", BAD, OK, "W needs a day"),
    ("cron(0 12 LW,15 * ? *)", OK, OK, "LW in a list"),
    ("cron(0 12 ? * 2#1,6#3 *)", OK, OK, "# items in a list"),
    ("cron(5,35 14 * * ? *)", OK, OK, "two minutes of an hour"),
    ("cron(15 10 ? * 6L 2025-2030)", OK, OK, "AWS's own example"),
    ("cron(0 18 ? * MON-FRI *)", OK, OK, "AWS's own example"),
    ("cron(0 8 1 * ? *)", OK, OK, "AWS's own example"),
    ("cron(0/10 * ? * MON-FRI *)", OK, OK, "AWS's own example"),
    ("cron(0/5 8-17 ? * MON-FRI *)", OK, OK, "AWS's own example"),
    ("cron(0 9 ? * 2#1 *)", OK, OK, "AWS's own example"),
    ("cron(0 12 * * ? 2026/2)", OK, OK, "a stepped year"),
    ("cron(0 12 \u0661 * ? *)", BAD, OK, "an Arabic-Indic digit is not an ASCII digit"),
    ("cron(0 12 * * ? *) ", BAD, BAD, "trailing space"),
    ("cron(0 12 * * ? *)\n", BAD, BAD, "trailing newline"),
    ("rate(1 minute)", OK, OK, "singular with 1"),
    ("rate(5 minutes)", OK, OK, "plural"),
    ("rate(1 minutes)", BAD, BAD, "plural with 1"),
    ("rate(2 minute)", BAD, BAD, "singular with 2"),
    ("rate(1 hour)", OK, OK, "an hour"),
    ("rate(1 day)", OK, OK, "a day"),
    ("rate(0 days)", BAD, BAD, "zero"),
    ("rate(99999999999 days)", OK, OK, "huge: valid, previews without overflow"),
    ("rate(1 week)", BAD, BAD, "weeks are not a unit"),
    ("rate(-1 days)", BAD, BAD, "negative"),
    ("rate(1.5 hours)", BAD, BAD, "fractions"),
]


def test_the_table_is_large_enough():
    assert len(TABLE) >= 60 and len({row[0] for row in TABLE}) == len(TABLE)


@pytest.mark.parametrize("expression, ours, _cfn_lint, why", TABLE, ids=[row[0] for row in TABLE])
def test_our_validator(expression, ours, _cfn_lint, why):
    try:
        validate_schedule_expression(expression)
        accepted = True
    except UserError as error:
        accepted = False
        assert "\n" not in str(error)
    assert accepted is ours, why
    if accepted:  # every accepted expression previews, in UTC and in a zone with daylight saving
        for zone in ("UTC", "Europe/Berlin"):
            runs = run_times(expression, zone, count=3)
            assert all(a < b for (a, _), (b, _) in zip(runs, runs[1:]))


def test_cfn_lint_e3027_verdicts_are_as_the_table_says():
    """One template with a rule per expression; cfn-lint's E3027 findings name the rules it refuses."""
    from cfnlint.api import lint_all

    resources = {f"Rule{i}": {"Type": "AWS::Events::Rule", "Properties": {"ScheduleExpression": row[0], "State": "ENABLED"}}
                 for i, row in enumerate(TABLE)}
    matches = lint_all(json.dumps({"Resources": resources}))
    refused = {match.path[1] for match in matches if match.rule.id == "E3027"}
    assert {row[0] for i, row in enumerate(TABLE) if f"Rule{i}" in refused} == {row[0] for row in TABLE if not row[2]}


@pytest.mark.parametrize("expression, expected", [
    ("cron(0 12 31 * ? *)", ["2026-01-31", "2026-03-31", "2026-05-31"]),
    ("cron(0 12 29 2 ? *)", ["2028-02-29", "2032-02-29", "2036-02-29"]),
    ("cron(0 12 LW * ? *)", ["2026-01-30", "2026-02-27", "2026-03-31"]),
    ("cron(0 12 1W * ? *)", ["2026-01-01", "2026-02-02", "2026-03-02"]),   # Feb 1 2026 is a Sunday
    ("cron(0 12 ? * 6L *)", ["2026-01-30", "2026-02-27", "2026-03-27"]),
    ("cron(0 12 ? * L *)", ["2026-01-31", "2026-02-28", "2026-03-28"]),    # last Saturday
    ("cron(0 12 ? * 2#1 *)", ["2026-01-05", "2026-02-02", "2026-03-02"]),  # first Monday
    ("cron(0 12 1 1 ? 2001)", []),
])
def test_next_runs_of_the_special_days(expression, expected):
    runs = run_times(expression, "UTC", count=3, after=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))
    assert [f"{utc:%Y-%m-%d}" for utc, _ in runs] == expected
