"""Observability of the data stores and the worker in the offline plans: Performance Insights and
Enhanced Monitoring on the database (prod), the worker schedule's dead-letter queue and its alarm
(every stack)."""

from __future__ import annotations

import json

import pytest

from infra import catalog
from infra.tools.mocks import ACCOUNT, mock_physical_name
from tests.infra.conftest import STACKS, policy_statements, run_stack
from tests.infra.test_config import config_error

MONITORING_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
BOUNDARY = f"arn:aws:iam::{ACCOUNT}:policy/service-ci/service-workload-boundary"


# ---- Performance Insights and Enhanced Monitoring ----------------------------------------------
def test_prod_database_has_free_tier_performance_insights_and_enhanced_monitoring(prod):
    db = prod.named("database-instance").plain_inputs()
    assert db["performanceInsightsEnabled"] is True
    assert db["performanceInsightsRetentionPeriod"] == 7, "the free tier"
    assert db["databaseInsightsMode"] == "standard", "RDS would otherwise default to advanced"
    assert db["monitoringInterval"] == 60
    role = prod.named("database-monitoring", "aws:iam/role:Role")
    assert db["monitoringRoleArn"] == (
        f"arn:aws:iam::{ACCOUNT}:role/service-prod/{mock_physical_name(role)}"
    )


def test_the_instance_waits_for_the_monitoring_roles_permissions(prod):
    attachment = prod.named(
        "database-monitoring", "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
    )
    assert attachment.plain_inputs()["policyArn"] == MONITORING_POLICY
    assert attachment.urn in prod.named("database-instance").dependencies


def test_only_rds_monitoring_for_this_instance_of_this_account_may_assume_the_role(prod):
    role = prod.named("database-monitoring", "aws:iam/role:Role").plain_inputs()
    assert role["path"] == "/service-prod/"
    (trust,) = json.loads(role["assumeRolePolicy"])["Statement"]
    assert trust["Principal"] == {"Service": "monitoring.rds.amazonaws.com"}
    assert trust["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
        "ArnLike": {"aws:SourceArn": f"arn:aws:rds:us-east-1:{ACCOUNT}:db:service-prod-db"},
    }


def test_the_monitoring_role_gets_the_stacks_permissions_boundary():
    run = run_stack("prod", permissionsBoundaryArn=BOUNDARY)
    role = run.named("database-monitoring", "aws:iam/role:Role").plain_inputs()
    assert role["permissionsBoundary"] == BOUNDARY


@pytest.mark.parametrize("stack", ["dev", "staging"])
def test_the_cheap_stacks_have_neither(stack):
    run = run_stack(stack)
    db = run.named("database-instance").plain_inputs()
    assert db["performanceInsightsEnabled"] is False
    assert db["monitoringInterval"] == 0 and "monitoringRoleArn" not in db
    assert run.find("database-monitoring") is None


def test_performance_insights_runs_on_the_smallest_postgresql_class():
    """RDS for PostgreSQL has no instance-class restriction (MySQL and MariaDB refuse micro and
    small burstable classes): dev's db.t4g.micro may turn it on."""
    db = run_stack("dev", dbPerformanceInsights=True).named("database-instance").plain_inputs()
    assert db["instanceClass"] == "db.t4g.micro" and db["performanceInsightsEnabled"] is True
    assert catalog.performance_insights_supported("postgres", "db.t4g.micro")
    assert not catalog.performance_insights_supported("mysql", "db.t4g.micro")


def test_an_interval_rds_does_not_offer_is_refused():
    message = config_error("prod", dbMonitoringInterval=45)
    assert message == (
        "service:dbMonitoringInterval in stack 'prod': expected one of 0, 1, 5, 10, 15, 30, 60, "
        "got 45"
    )


# ---- the worker's dead-letter queue ------------------------------------------------------------
@pytest.mark.parametrize("stack", STACKS)
def test_runs_the_scheduler_cannot_start_go_to_an_encrypted_two_week_queue(stack):
    run = run_stack(stack)
    queue = run.named("worker-dlq").plain_inputs()
    assert queue["name"] == f"service-{stack}-worker-dlq"
    assert queue["sqsManagedSseEnabled"] is True
    assert queue["messageRetentionSeconds"] == 14 * 24 * 3600
    target = run.named("worker-schedule").plain_inputs()["target"]
    arn = f"arn:aws:sqs:us-east-1:{ACCOUNT}:service-{stack}-worker-dlq"
    assert target["deadLetterConfig"] == {"arn": arn}
    # RunTask retried within the minute, never past it: runs do not pile up
    assert target["retryPolicy"] == {"maximumRetryAttempts": 2, "maximumEventAgeInSeconds": 60}


def test_the_schedules_role_may_send_to_that_queue_and_nothing_else(prod):
    (statement,) = policy_statements(prod.named("worker-dead-letters"))
    assert statement["Action"] == ["sqs:SendMessage"]
    assert statement["Resource"] == [f"arn:aws:sqs:us-east-1:{ACCOUNT}:service-prod-worker-dlq"]
    role_policy = prod.named("worker-dead-letters").plain_inputs()
    assert role_policy["role"] == mock_physical_name(prod.named("worker-role"))
    assert prod.named("worker-dead-letters").urn in prod.named("worker-schedule").dependencies
    # Scheduler sends as the schedule's role: no queue policy grants anyone else anything.
    assert not prod.of_type("aws:sqs/queuePolicy:QueuePolicy")
    assert "policy" not in prod.named("worker-dlq").inputs


@pytest.mark.parametrize("stack", STACKS)
def test_any_dead_letter_alarms_the_topic(stack):
    run = run_stack(stack)
    alarm = run.named("alarms-worker-dead-letters").plain_inputs()
    assert (alarm["namespace"], alarm["metricName"]) == (
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
    )
    assert alarm["dimensions"] == {"QueueName": f"service-{stack}-worker-dlq"}
    assert alarm["comparisonOperator"] == "GreaterThanThreshold" and alarm["threshold"] == 0
    assert alarm["alarmActions"] == alarm["okActions"]
    assert alarm["alarmActions"][0].endswith(mock_physical_name(run.named("alarms-topic")))
