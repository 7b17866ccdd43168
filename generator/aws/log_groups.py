"""CloudWatch Logs log groups: the retention periods AWS accepts, checked when options are built."""

from __future__ import annotations

from generator.core.errors import UserError

# The only values AWS::Logs::LogGroup RetentionInDays accepts.
# https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutRetentionPolicy.html
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)


def validate_retention_days(days: int, *, field: str = "log_retention_days") -> int:
    if days not in LOG_RETENTION_DAYS:
        raise UserError(f"{days} is not a CloudWatch Logs retention; allowed: {', '.join(map(str, LOG_RETENTION_DAYS))}", field=field)
    return days
