"""The application's own CloudWatch metrics: the one place infra names them.

The service writes them as Embedded Metric Format lines on stdout (the awslogs driver delivers
them, CloudWatch extracts the metrics) into the namespace it reads from ``METRICS_NAMESPACE``,
which every container of the image gets: ``<project>/<stack>`` (``StackConfig.metrics_namespace``).
These names are the contract with ``service/``; the dashboard reads them.
"""

from __future__ import annotations

NAMESPACE_VARIABLE = "METRICS_NAMESPACE"

# Count. Dimension sets [["Limit"], []]: per rate limit (items:create ...) and the stack total.
RATE_LIMIT_REFUSALS = "RateLimitRefusals"
# Count, no dimensions: checks that failed open or closed because Redis was unreachable.
LIMITER_FAILURES = "LimiterFailures"
# Count, no dimensions: requests answered 503 because PostgreSQL was unreachable.
DATABASE_UNAVAILABLE = "DatabaseUnavailable"
# Count, dimension set [["Outcome"]]: delivered; failed (an attempt, retried); dead (given up).
WEBHOOK_DELIVERIES = "WebhookDeliveries"
WEBHOOK_OUTCOMES = ("delivered", "failed", "dead")
# Count and Milliseconds, dimension set [["Outcome"]]: success, failed.
WORKER_RUNS = "WorkerRuns"
WORKER_RUN_DURATION = "WorkerRunDuration"
WORKER_OUTCOMES = ("success", "failed")

OUTCOME = "Outcome"
