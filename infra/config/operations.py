"""Running the stack: log retention, the scheduled worker, the alarms and who they reach."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from infra.components.alarms import AlarmThresholds
from infra.config.reader import ConfigError, ConfigReader

# CloudWatch Logs accepts only these retention periods (days).
LOG_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)
_SCHEDULE = re.compile(r"^(rate\(\d+ (minute|minutes|hour|hours|day|days)\)|cron\(.+\))$")
_SNS_ARN = re.compile(r"^arn:aws[a-z-]*:sns:(?P<region>[a-z0-9-]+):\d{12}:[A-Za-z0-9_-]{1,256}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# example.com cannot receive mail: the committed on-call address is a placeholder.
_PLACEHOLDER_EMAIL = re.compile(r"@example\.(com|org|net)$", re.IGNORECASE)
# service:alarms keys -> AlarmThresholds fields and their type.
ALARM_KEYS: dict[str, tuple[str, type]] = {
    "alb5xxPercent": ("alb_5xx_percent", float),
    "unhealthyHosts": ("unhealthy_hosts", int),
    "targetResponseP95Seconds": ("target_response_p95_seconds", float),
    "serviceCpuPercent": ("service_cpu_percent", float),
    "serviceMemoryPercent": ("service_memory_percent", float),
    "dbCpuPercent": ("db_cpu_percent", float),
    "dbFreeStorageGiB": ("db_free_storage_gib", float),
    "dbConnections": ("db_connections", int),
    "redisMemoryPercent": ("redis_memory_percent", float),
    "release5xxPercent": ("release_5xx_percent", float),
    "releaseP99Seconds": ("release_p99_seconds", float),
    "releaseDependencyErrors": ("release_dependency_errors", int),
}


@dataclass(frozen=True)
class OperationsConfig:
    log_retention_days: int  # every log group of the stack
    worker_enabled: bool
    worker_schedule: str  # rate(...) or cron(...)
    alarm_email: str | None
    alarm_topic_arn: str | None  # an existing SNS topic notified as well
    alarms: AlarmThresholds

    @classmethod
    def read(cls, r: ConfigReader, region: str, *, protect: bool) -> OperationsConfig:
        alarm_email = r.string("alarmEmail", pattern=_EMAIL, expected="an email address")
        alarm_topic_arn = r.string(
            "alarmTopicArn",
            pattern=_SNS_ARN,
            expected=f"an SNS topic ARN in {region} (PagerDuty, Chatbot, ...)",
        )
        if alarm_topic_arn and _SNS_ARN.match(alarm_topic_arn)["region"] != region:
            r.fail("alarmTopicArn", f"an SNS topic in the stack's region {region}", alarm_topic_arn)
        if protect and not (alarm_email or alarm_topic_arn):
            r.fail(
                "alarmEmail",
                "an on-call address (or alarmTopicArn, an existing SNS topic) because protect is "
                "true: alarms of a protected stack must reach someone",
            )
        return cls(
            log_retention_days=r.integer("logRetentionDays", 30, choices=LOG_RETENTION_DAYS),
            worker_enabled=r.boolean("workerEnabled", True),
            worker_schedule=r.string(
                "workerSchedule",
                "rate(1 minute)",
                pattern=_SCHEDULE,
                expected="rate(N minutes) or cron(...)",
            ),
            alarm_email=alarm_email,
            alarm_topic_arn=alarm_topic_arn,
            alarms=_alarm_thresholds(r),
        )

    def refuse_placeholders(self, r: ConfigReader) -> None:
        """The committed example address reaches nobody: a real run refuses it."""
        if self.alarm_email and _PLACEHOLDER_EMAIL.search(self.alarm_email):
            raise ConfigError(
                f"{r.project}:alarmEmail in stack '{r.stack}': the committed placeholder "
                f"{self.alarm_email!r} reaches nobody; run `pulumi config set "
                f"{r.project}:alarmEmail <on-call address> --stack {r.stack}` (or set "
                f"{r.project}:alarmTopicArn to an existing SNS topic)"
            )


def _alarm_thresholds(r: ConfigReader) -> AlarmThresholds:
    values = r.obj("alarms", "a map of alarm thresholds") or {}
    if not isinstance(values, dict):
        r.fail("alarms", "a map of alarm thresholds", values)
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        if key not in ALARM_KEYS:
            r.fail(f"alarms.{key}", "one of " + ", ".join(sorted(ALARM_KEYS)), key)
        attr, kind = ALARM_KEYS[key]
        try:
            number = kind(value)
        except (TypeError, ValueError):
            r.fail(f"alarms.{key}", f"a {'whole ' if kind is int else ''}number", value)
        if number <= 0:
            r.fail(f"alarms.{key}", "a positive number", value)
        kwargs[attr] = number
    return AlarmThresholds(**kwargs)
