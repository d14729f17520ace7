"""Issue 7: migrations before serving, the scheduled worker, autoscaling, alarms, ECS Exec, WAF."""

from __future__ import annotations

import json
import re

import pytest

from infra.components.scheduler import WORKER_COMMAND
from infra.components.service import MIGRATE_COMMAND
from infra.tools.mocks import mock_id, mock_physical_name
from tests.infra.conftest import containers, policy_statements

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"


# ---- migrations ---------------------------------------------------------------------------------
def test_migration_runs_as_a_non_essential_init_container(any_stack):
    _, run = any_stack
    c = containers(run.named("app-app"))
    assert list(c) == ["migrate", "app"]
    assert c["migrate"]["command"] == MIGRATE_COMMAND == ["python", "-m", "service.migrate"]
    assert c["migrate"]["essential"] is False
    assert "portMappings" not in c["migrate"]


def test_app_starts_only_after_the_migration_succeeded(any_stack):
    _, run = any_stack
    app = containers(run.named("app-app"))["app"]
    assert app["essential"] is True
    assert "command" not in app  # the image's default command (uvicorn)
    assert app["dependsOn"] == [{"containerName": "migrate", "condition": "SUCCESS"}]


def test_failed_migration_rolls_back_through_the_circuit_breaker(prod):
    service = prod.named("app-service").inputs
    assert service["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
    # Old tasks keep serving until new ones are healthy: nothing half-migrated serves alone.
    assert service["deploymentMinimumHealthyPercent"] == 100


def test_migration_uses_the_same_image_and_secrets_as_the_app(any_stack):
    _, run = any_stack
    c = containers(run.named("app-app"))
    assert c["migrate"]["image"] == c["app"]["image"]
    assert c["migrate"]["secrets"] == c["app"]["secrets"]


# ---- scheduled worker ---------------------------------------------------------------------------
def test_worker_task_runs_run_due_once(any_stack):
    _, run = any_stack
    td = run.named("worker-worker")
    assert td.parent == "worker"
    (worker,) = containers(td).values()
    assert (
        worker["command"]
        == WORKER_COMMAND
        == [
            "python",
            "-m",
            "service.worker",
            "run-due",
            "--once",
        ]
    )
    assert td.inputs["family"].endswith("-worker")


def test_schedule_runs_the_worker_task_on_the_cluster_every_minute(any_stack):
    stack, run = any_stack
    s = run.named("worker-schedule").inputs
    assert s["scheduleExpression"] == "rate(1 minute)"
    assert s["state"] == "ENABLED"
    target = s["target"]
    assert target["arn"] == f"arn:aws:ecs:us-east-1:123456789012:cluster/service-{stack}"
    ecs = target["ecsParameters"]
    assert re.search(f"task-definition/service-{stack}-worker:[0-9]+$", ecs["taskDefinitionArn"])
    assert ecs["launchType"] == "FARGATE" and ecs["taskCount"] == 1
    tasks_sg = run.named("network-tasks", "aws:ec2/securityGroup:SecurityGroup")
    assert ecs["networkConfiguration"]["securityGroups"] == [mock_id(tasks_sg)]
    # IAM is global: no region in the ARN; the role lives under the stack's path.
    assert target["roleArn"] == (
        f"arn:aws:iam::123456789012:role/service-{stack}/"
        f"{mock_physical_name(run.named('worker-role'))}"
    )


def test_schedule_expression_is_configurable(custom):
    assert custom.named("worker-schedule").inputs["scheduleExpression"] == "rate(5 minutes)"


def test_scheduler_role_can_run_only_the_worker_and_pass_only_its_two_roles(any_stack):
    stack, run = any_stack
    role = run.named("worker-role").plain_inputs()
    (trust,) = json.loads(role["assumeRolePolicy"])["Statement"]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    # Confused-deputy guard: only this account's schedules may assume the role.
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}
    statements = {s["Sid"]: s for s in policy_statements(run.named("worker-run-task"))}
    assert set(statements) == {"RunWorkerTask", "TagWorkerTask", "PassWorkerRoles"}

    run_task = statements["RunWorkerTask"]
    assert run_task["Action"] == ["ecs:RunTask"]
    assert run_task["Resource"] == [
        f"arn:aws:ecs:us-east-1:123456789012:task-definition/service-{stack}-worker:*"
    ]
    assert "ecs:cluster" in run_task["Condition"]["ArnEquals"]

    passing = statements["PassWorkerRoles"]
    assert passing["Action"] == ["iam:PassRole"]
    worker_td = run.named("worker-worker").plain_inputs()
    assert sorted(passing["Resource"]) == sorted(
        [worker_td["executionRoleArn"], worker_td["taskRoleArn"]]
    )
    tag = statements["TagWorkerTask"]
    assert tag["Action"] == ["ecs:TagResource"]
    assert tag["Condition"] == {"StringEquals": {"ecs:CreateAction": "RunTask"}}


# ---- autoscaling --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("stack", "bounds"), [("dev", (1, 2)), ("staging", (1, 3)), ("prod", (2, 10))]
)
def test_autoscaling_bounds_per_stack(stack_run, stack, bounds):
    run = stack_run(stack)
    target = run.named("app-scaling").inputs
    assert (target["minCapacity"], target["maxCapacity"]) == bounds
    assert target["scalableDimension"] == "ecs:service:DesiredCount"
    cluster, service = (mock_physical_name(run.named(n)) for n in ("app-cluster", "app-service"))
    assert target["resourceId"] == f"service/{cluster}/{service}"


def scaling_policies(run) -> dict[str, dict]:
    return {
        r.name: r.inputs["targetTrackingScalingPolicyConfiguration"]
        for r in run.of_type("aws:appautoscaling/policy:Policy")
    }


def test_target_tracking_on_cpu_and_on_alb_requests_per_target(staging):
    policies = scaling_policies(staging)
    assert set(policies) == {"app-scale-cpu", "app-scale-requests"}
    cpu = policies["app-scale-cpu"]["predefinedMetricSpecification"]
    assert cpu == {"predefinedMetricType": "ECSServiceAverageCPUUtilization"}
    requests = policies["app-scale-requests"]["predefinedMetricSpecification"]
    assert requests["predefinedMetricType"] == "ALBRequestCountPerTarget"
    alb, tg = (mock_physical_name(staging.named(n)) for n in ("web-alb", "web-tg"))
    assert requests["resourceLabel"] == (
        f"app/{alb}/0123456789abcdef/targetgroup/{tg}/0123456789abcdef"
    )


def test_with_two_target_groups_requests_scaling_follows_the_busier_one(prod):
    """Canary in prod: the live target group alternates between deployments, so the requests
    policy tracks RequestCountPerTarget of whichever group carries the traffic."""
    policy = scaling_policies(prod)["app-scale-requests"]
    assert policy["targetValue"] == 500 and "predefinedMetricSpecification" not in policy
    *groups, busiest = policy["customizedMetricSpecification"]["metrics"]
    assert busiest == {
        "id": "busiest",
        "expression": "MAX([FILL(m0, 0), FILL(m1, 0)])",
        "label": "Requests per target of the busiest target group",
        "returnData": True,
    }
    alb = f"app/{mock_physical_name(prod.named('web-alb'))}/0123456789abcdef"
    suffixes = [
        f"targetgroup/{mock_physical_name(prod.named(n))}/0123456789abcdef"
        for n in ("web-tg", "web-tg-alt")
    ]
    for query, suffix in zip(groups, suffixes, strict=True):
        assert query["metricStat"]["stat"] == "Sum" and query["returnData"] is False
        metric = query["metricStat"]["metric"]
        assert (metric["namespace"], metric["metricName"]) == (
            "AWS/ApplicationELB",
            "RequestCountPerTarget",
        )
        assert metric["dimensions"] == [
            {"name": "TargetGroup", "value": suffix},
            {"name": "LoadBalancer", "value": alb},
        ]


# ---- alarms -------------------------------------------------------------------------------------
def test_prod_has_at_least_eight_alarms_all_wired_to_the_topic(prod):
    alarms = prod.of_type(ALARM)
    assert len(alarms) >= 8
    topic = prod.outputs["alarmTopicArn"]
    for alarm in alarms:
        assert alarm.inputs["alarmActions"] == [topic], alarm.name
        assert alarm.inputs["okActions"] == [topic], alarm.name


def test_alarms_cover_alb_service_database_and_cache(prod):
    metrics = set()
    for alarm in prod.of_type(ALARM):
        i = alarm.inputs
        if "metricName" in i:
            metrics.add((i["namespace"], i["metricName"]))
        for query in i.get("metricQueries", []):
            if "metric" in query:
                metrics.add((query["metric"]["namespace"], query["metric"]["metricName"]))
    assert metrics >= {
        ("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count"),
        ("AWS/ApplicationELB", "UnHealthyHostCount"),
        ("AWS/ApplicationELB", "TargetResponseTime"),
        ("AWS/ECS", "CPUUtilization"),
        ("AWS/ECS", "MemoryUtilization"),
        ("AWS/RDS", "CPUUtilization"),
        ("AWS/RDS", "FreeStorageSpace"),
        ("AWS/RDS", "DatabaseConnections"),
        ("AWS/ElastiCache", "DatabaseMemoryUsagePercentage"),
    }


def test_response_time_alarm_uses_p95(prod):
    alarm = prod.named("alarms-target-response-p95").inputs
    assert alarm["extendedStatistic"] == "p95" and "statistic" not in alarm


def test_alarm_thresholds_come_from_stack_config(prod, staging):
    def threshold(run, name):
        return run.named(f"alarms-{name}").inputs["threshold"]

    assert threshold(prod, "alb-5xx-rate") == 2 and threshold(staging, "alb-5xx-rate") == 10
    assert threshold(prod, "db-free-storage") == 10 * 1024**3
    assert threshold(prod, "db-connections") == 150


def test_every_redis_node_has_a_memory_alarm(prod, dev):
    assert {a.name for a in prod.of_type(ALARM) if "redis" in a.name} == {
        "alarms-redis-memory-001",
        "alarms-redis-memory-002",
    }
    (node,) = [a for a in dev.of_type(ALARM) if "redis" in a.name]
    assert node.inputs["dimensions"] == {"CacheClusterId": "service-dev-redis-001"}


def test_email_subscription_only_when_configured(custom, dev):
    assert dev.of_type("aws:sns/topicSubscription:TopicSubscription") == []
    (sub,) = custom.of_type("aws:sns/topicSubscription:TopicSubscription")
    assert (sub.inputs["protocol"], sub.inputs["endpoint"]) == ("email", "oncall@example.com")


def test_prod_alarms_reach_someone(prod):
    (sub,) = prod.of_type("aws:sns/topicSubscription:TopicSubscription")
    assert sub.inputs["protocol"] == "email" and sub.inputs["endpoint"]


def test_an_existing_topic_is_notified_by_every_alarm_besides_the_own_topic(stack_run):
    pager = "arn:aws:sns:us-east-1:210987654321:pagerduty"
    run = stack_run("dev", alarmTopicArn=pager)
    for alarm in run.of_type(ALARM):
        actions = alarm.inputs["alarmActions"]
        assert len(actions) == 2 and actions[1] == pager, (alarm.name, actions)
        assert alarm.inputs["okActions"] == actions


def test_the_alarms_are_declared_as_data_each_key_once():
    """The alarm table is plain data, built without a Pulumi run; every spec is one metric or
    metric math, never both."""
    from infra.components import alarms as a

    t = a.AlarmThresholds()
    groups = ("app/service-x/1", ["targetgroup/a/1", "targetgroup/b/1"])
    specs = [
        *a.load_balancer_alarms(t, *groups),
        *a.database_alarms(t, "service-x-db"),
        *a.cache_alarms(t, ["service-x-redis-001", "service-x-redis-002"]),
        *a.release_alarms(t, "service-x", *groups, "service/x"),
        *a.service_alarms(t, "service-x", "app-service"),
        *a.worker_alarms("service-x-worker-dlq"),
    ]
    keys = [spec.key for spec in specs]
    assert len(keys) == len(set(keys)) == 15, keys
    for spec in specs:
        assert (spec.metric_queries is None) == (spec.namespace is not None), spec.key


# ---- ECS Exec and WAF ---------------------------------------------------------------------------
@pytest.mark.parametrize(("stack", "enabled"), [("dev", True), ("staging", True), ("prod", False)])
def test_ecs_exec_switch_per_stack(stack_run, stack, enabled):
    run = stack_run(stack)
    assert run.named("app-service").inputs["enableExecuteCommand"] is enabled
    assert (run.find("app-task-exec") is not None) is enabled


@pytest.mark.parametrize(("stack", "waf"), [("dev", False), ("staging", False), ("prod", True)])
def test_waf_only_where_configured(stack_run, stack, waf):
    run = stack_run(stack)
    acls = run.of_type("aws:wafv2/webAcl:WebAcl")
    associations = run.of_type("aws:wafv2/webAclAssociation:WebAclAssociation")
    assert (len(acls), len(associations)) == ((1, 1) if waf else (0, 0))


def test_waf_blocks_per_ip_above_the_configured_rate(prod):
    acl = prod.named("web-waf", "aws:wafv2/webAcl:WebAcl").inputs
    assert acl["scope"] == "REGIONAL"
    assert acl["defaultAction"] == {"allow": {}}
    (rule,) = [r for r in acl["rules"] if r["name"] == "rate-limit-per-ip"]
    assert rule["priority"] == 1, "the flood is cut before the managed rules run"
    assert rule["action"] == {"block": {}}
    statement = rule["statement"]["rateBasedStatement"]
    assert (statement["limit"], statement["aggregateKeyType"]) == (2000, "IP")
    association = prod.named("web-waf", "aws:wafv2/webAclAssociation:WebAclAssociation").inputs
    alb = mock_physical_name(prod.named("web-alb"))
    acl = mock_physical_name(prod.named("web-waf", "aws:wafv2/webAcl:WebAcl"))
    assert association["resourceArn"] == (
        f"arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/{alb}/"
        "0123456789abcdef"
    )
    assert association["webAclArn"].startswith(
        f"arn:aws:wafv2:us-east-1:123456789012:regional/webacl/{acl}/"
    )
