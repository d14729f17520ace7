"""infra.cost: one rule per billable type on small synthetic plans (expectations computed by hand
from the test's own price table), the committed table, the three stacks' totals, the PR comment
section, and refresh-prices against a stubbed Price List API (never live)."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from infra.tools import cost
from infra.tools.plan import to_dict
from tests.infra.conftest import run_stack

GOLDEN = Path(__file__).resolve().parents[1] / "delivery" / "golden"

TABLE = {
    "source": "test table",
    "date": "2026-11-30",
    "currency": "USD",
    "regions": {
        "us-east-1": {
            "verified": True,
            "fargate": {
                "X86_64": {"vcpu_hour": 0.04048, "gb_hour": 0.004445},
                "ARM64": {"vcpu_hour": 0.03238, "gb_hour": 0.00356},
                "ephemeral_gb_hour": 0.000111,
            },
            "nat_gateway": {"hour": 0.045, "gb": 0.045},
            "alb": {"hour": 0.0225, "lcu_hour": 0.008},
            "rds_postgres": {
                "instance_hour": {"db.t4g.micro": 0.016, "db.t4g.medium": 0.065},
                "gp3_gb_month": 0.115,
                "gp2_gb_month": 0.115,
                "backup_gb_month": 0.095,
            },
            "elasticache": {"node_hour": {"cache.t4g.small": 0.032}},
            "secrets_manager": {"secret_month": 0.40, "api_calls_10k": 0.05},
            "cloudwatch": {
                "alarm_metric_month": 0.10,
                "alarm_high_resolution_metric_month": 0.30,
                "dashboard_month": 3.00,
                "custom_metric_month": 0.30,
                "logs_ingest_gb": 0.50,
                "logs_storage_gb_month": 0.03,
            },
            "waf": {"web_acl_month": 5.0, "rule_month": 1.0, "million_requests": 0.60},
            "vpc_endpoint": {"interface_az_hour": 0.01, "gb": 0.01},
            "ecr": {"storage_gb_month": 0.10},
            "public_ipv4": {"hour": 0.005},
            "data_transfer": {"internet_out_gb": 0.09},
            "scheduler": {"million_invocations": 1.0},
            "s3": {"standard_gb_month": 0.023, "put_requests_1k": 0.005},
            "sqs": {"million_requests": 0.40},
        }
    },
}
PRICES = cost.parse_prices(TABLE)


def res(type_: str, name: str, **inputs) -> dict:
    return {"type": type_, "name": name, "parent": None, "protect": False, "inputs": inputs}


PROVIDER = res("pulumi:providers:aws", "aws", region="us-east-1")


def task_definition(family="svc-app", cpu="256", memory="512", arch="X86_64", secrets=0):
    containers = [
        {"name": "app", "secrets": [{"name": f"S{i}", "valueFrom": "arn"} for i in range(secrets)]}
    ]
    return res(
        "aws:ecs/taskDefinition:TaskDefinition", f"{family}-td", family=family, cpu=cpu,
        memory=memory, runtimePlatform={"cpuArchitecture": arch},
        containerDefinitions=json.dumps(containers),
    )  # fmt: skip


def service(family="svc-app", desired=1, public_ip=False):
    return res(
        "aws:ecs/service:Service", "app-service", launchType="FARGATE", desiredCount=desired,
        taskDefinition=f"arn:aws:ecs:us-east-1:123456789012:task-definition/{family}:7",
        networkConfiguration={"assignPublicIp": public_ip, "subnets": ["s"]},
    )  # fmt: skip


def schedule(expression="rate(1 hour)", family="svc-worker", public_ip=False, state="ENABLED"):
    ecs = {
        "launchType": "FARGATE",
        "taskCount": 1,
        "taskDefinitionArn": f"arn:aws:ecs:us-east-1:123456789012:task-definition/{family}:3",
        "networkConfiguration": {"assignPublicIp": public_ip, "subnets": ["s"]},
    }
    return res(
        "aws:scheduler/schedule:Schedule", "worker-schedule", scheduleExpression=expression,
        state=state, target={"arn": "cluster", "ecsParameters": ecs},
    )  # fmt: skip


def estimate(*resources, **assume) -> dict:
    return cost.estimate(
        [PROVIDER, *resources], stack="test", region="us-east-1", prices=PRICES, assumptions=assume
    )


def items(report: dict, description_start: str) -> list[dict]:
    return [i for i in report["items"] if i["description"].startswith(description_start)]


def monthly(report: dict, description_start: str) -> float:
    found = items(report, description_start)
    assert found, f"no item {description_start!r} in {[i['description'] for i in report['items']]}"
    return round(sum(i["monthly"] for i in found), 4)


# ---- rules ----------------------------------------------------------------------------------


def test_a_nat_gateway_costs_its_hours_and_an_elastic_ip():
    r = estimate(res("aws:ec2/natGateway:NatGateway", "nat"), res("aws:ec2/eip:Eip", "nat"))
    assert monthly(r, "NAT gateway hours") == 32.85  # 730 h * $0.045
    assert monthly(r, "NAT gateway data processed") == 0.0  # no tasks behind it
    assert monthly(r, "public IPv4 address (Elastic IP)") == 3.65  # 730 h * $0.005
    assert r["monthly_total"] == 36.5


def test_nat_processes_the_private_workers_image_pulls_and_the_logs():
    nat = res("aws:ec2/natGateway:NatGateway", "nat")
    r = estimate(nat, schedule("rate(1 hour)"), task_definition("svc-worker"))
    # 730 runs * 0.2 GB + 5 GB of logs = 151 GB * $0.045
    assert monthly(r, "NAT gateway data processed") == round(151 * 0.045, 4)
    (item,) = items(r, "NAT gateway data processed")
    assert "730 runs" in item["assumption"] and "no S3 gateway endpoint" in item["assumption"]


def test_an_s3_gateway_endpoint_takes_the_image_layers_off_the_nat():
    nat = res("aws:ec2/natGateway:NatGateway", "nat")
    s3 = res(
        "aws:ec2/vpcEndpoint:VpcEndpoint", "s3", serviceName="com.amazonaws.us-east-1.s3",
        vpcEndpointType="Gateway",
    )  # fmt: skip
    r = estimate(nat, s3, schedule("rate(1 hour)"), task_definition("svc-worker"))
    assert monthly(r, "NAT gateway data processed") == round(5 * 0.045, 4)  # the logs only
    assert monthly(r, "gateway endpoint") == 0.0


def test_nat_traffic_is_split_over_the_gateways():
    nats = [res("aws:ec2/natGateway:NatGateway", f"nat-{i}") for i in range(2)]
    r = estimate(*nats, service(), task_definition())
    per_nat = [i["quantity"] for i in items(r, "NAT gateway data processed")]
    assert per_nat == [2.5, 2.5]  # 5 GB of logs from the private service


def test_a_fargate_service_costs_vcpu_and_memory_hours_of_its_desired_tasks():
    r = estimate(service(desired=2), task_definition(cpu="512", memory="1024"))
    assert monthly(r, "Fargate vCPU") == round(2 * 730 * 0.5 * 0.04048, 4)  # 29.5504
    assert monthly(r, "Fargate memory") == round(2 * 730 * 1 * 0.004445, 4)  # 6.4897
    assert not items(r, "public IPv4")


def test_arm64_tasks_use_the_graviton_price():
    r = estimate(service(), task_definition(arch="ARM64"))
    assert monthly(r, "Fargate vCPU") == round(730 * 0.25 * 0.03238, 4)


def test_tasks_with_a_public_ip_pay_for_the_address():
    r = estimate(service(desired=1, public_ip=True), task_definition())
    assert monthly(r, "public IPv4 address (each task's ENI)") == 3.65


def test_the_scheduled_worker_costs_its_runs_from_the_schedule_expression():
    worker = task_definition("svc-worker", secrets=4)
    r = estimate(schedule("rate(5 minutes)", public_ip=True), worker)
    runs = 730 * 60 / 5  # 8,760
    task_hours = runs * 60 / 3600  # 146: the one-minute minimum per run
    assert monthly(r, "Fargate vCPU") == round(task_hours * 0.25 * 0.04048, 4)
    assert monthly(r, "Fargate memory") == round(task_hours * 0.5 * 0.004445, 4)
    assert monthly(r, "EventBridge Scheduler invocations") == round(runs / 1e6, 4)
    assert monthly(r, "public IPv4 address (each run's ENI)") == round(task_hours * 0.005, 4)
    assert monthly(r, "Secrets Manager API calls") == round(runs * 4 * 0.05 / 1e4, 4)


def test_a_longer_worker_run_is_billed_for_its_seconds():
    r = estimate(schedule("rate(1 hour)"), task_definition("svc-worker"), worker_run_seconds=180)
    assert monthly(r, "Fargate vCPU") == round(730 * 180 / 3600 * 0.25 * 0.04048, 4)


def test_a_disabled_schedule_is_listed_at_zero():
    r = estimate(schedule(state="DISABLED"), task_definition("svc-worker"))
    assert [i["description"] for i in r["items"]] == ["schedule disabled: no runs"]
    assert r["monthly_total"] == 0


@pytest.mark.parametrize(
    ("expression", "runs"),
    [
        ("rate(1 minute)", 43800),
        ("rate(5 minutes)", 8760),
        ("rate(2 hours)", 365),
        ("rate(1 day)", 730 / 24),
        ("cron(0 9 * * ? *)", 365 / 12),  # daily at 09:00
        ("cron(0/15 * * * ? *)", 365 * 24 * 4 / 12),
        ("cron(0 9 ? * MON-FRI *)", 261 / 12),  # weekdays of 2025
        ("cron(30 2 1 * ? *)", 1),  # monthly
        ("at(2026-12-24T00:00:00)", 0),
    ],
)
def test_runs_per_month(expression, runs):
    assert cost.runs_per_month(expression) == pytest.approx(runs)


def test_unsupported_cron_syntax_is_a_clear_error():
    with pytest.raises(cost.CostError, match="L, W and #"):
        cost.runs_per_month("cron(0 9 L * ? *)")


def test_an_internet_facing_alb_costs_hours_lcus_addresses_and_data_out():
    alb = res(
        "aws:lb/loadBalancer:LoadBalancer", "alb", loadBalancerType="application",
        internal=False, subnets=["a", "b"],
    )  # fmt: skip
    r = estimate(alb)
    assert monthly(r, "ALB hours") == 16.425  # 730 * $0.0225
    assert monthly(r, "ALB capacity units") == round(0.2 * 730 * 0.008, 4)  # 5 req/s ÷ 25
    assert monthly(r, "public IPv4 address (one per AZ, 2 AZs)") == 7.3
    assert monthly(r, "data transfer out") == 1.8  # 20 GB * $0.09
    heavy = estimate(alb, gb_out_per_month=7300)  # 10 GB/h: processed bytes dominate
    assert monthly(heavy, "ALB capacity units") == round(10 * 730 * 0.008, 4)


def rds(**overrides):
    inputs = dict(
        engine="postgres", instanceClass="db.t4g.micro", allocatedStorage=20, storageType="gp3",
        multiAz=False, backupRetentionPeriod=7, manageMasterUserPassword=True,
    )  # fmt: skip
    inputs.update(overrides)
    return res("aws:rds/instance:Instance", "db", **inputs)


def test_rds_costs_instance_hours_storage_backups_beyond_free_and_its_managed_secret():
    r = estimate(rds())
    assert monthly(r, "RDS PostgreSQL db.t4g.micro") == 11.68  # 730 * $0.016
    assert monthly(r, "RDS gp3 storage") == 2.3  # 20 GB * $0.115
    # 20 GB * (1 + 7 days * 5%) = 27 GB of backups, 20 GB free: 7 GB * $0.095
    assert monthly(r, "RDS backup storage") == round(7 * 0.095, 4)
    assert monthly(r, "Secrets Manager secret (RDS-managed") == 0.4


def test_multi_az_doubles_instance_and_storage():
    r = estimate(rds(instanceClass="db.t4g.medium", multiAz=True, allocatedStorage=50))
    assert monthly(r, "RDS PostgreSQL db.t4g.medium (Multi-AZ") == 94.9  # 2 * 730 * $0.065
    assert monthly(r, "RDS gp3 storage") == 11.5  # 2 * 50 GB * $0.115


def test_an_instance_class_without_a_price_is_unpriced_not_zero():
    r = estimate(rds(instanceClass="db.r7g.large"))
    assert r["unpriced"] == ["aws:rds/instance:Instance"]
    assert r["items"] == [] and r["monthly_total"] == 0
    assert any("db.r7g.large" in w for w in r["warnings"])


def test_elasticache_costs_each_node():
    group = res(
        "aws:elasticache/replicationGroup:ReplicationGroup", "redis",
        nodeType="cache.t4g.small", numCacheClusters=2,
    )  # fmt: skip
    assert estimate(group)["monthly_total"] == 46.72  # 2 * 730 * $0.032


def test_secrets_cost_per_secret():
    assert estimate(res("aws:secretsmanager/secret:Secret", "s"))["monthly_total"] == 0.4


def test_alarms_cost_per_metric_and_more_at_high_resolution():
    simple = res("aws:cloudwatch/metricAlarm:MetricAlarm", "a", period=60, metricName="CPU")
    math = res(
        "aws:cloudwatch/metricAlarm:MetricAlarm", "b",
        metricQueries=[
            *({"id": f"m{i}", "metric": {"period": 60}} for i in (1, 2, 3)),
            {"id": "e", "expression": "m1+m2"},
        ],
    )  # fmt: skip
    fast = res("aws:cloudwatch/metricAlarm:MetricAlarm", "c", period=10, metricName="CPU")
    assert estimate(simple)["monthly_total"] == 0.1
    assert estimate(math)["monthly_total"] == 0.3  # three metrics, the expression is free
    assert estimate(fast)["monthly_total"] == 0.3


def test_the_dashboard_costs_its_month_and_the_app_metrics_it_reads():
    dashboard = res("aws:cloudwatch/dashboard:Dashboard", "d", dashboardName="svc")
    assert monthly(estimate(dashboard), "CloudWatch dashboard") == 3.0
    assert monthly(estimate(dashboard), "the app's own metrics") == 6.3  # 21 * $0.30
    assert monthly(estimate(dashboard, app_custom_metrics=10), "the app's own metrics") == 3.0


def test_logs_cost_ingestion_and_retained_storage():
    r = estimate(res("aws:cloudwatch/logGroup:LogGroup", "logs", retentionInDays=30))
    assert monthly(r, "CloudWatch Logs ingestion") == 2.5  # 5 GB * $0.50
    stored = 5 * 30 / (730 / 24)  # 30 days of 5 GB/month
    assert monthly(r, "CloudWatch Logs storage") == round(stored * 0.03, 4)


def test_waf_costs_the_acl_its_rules_and_requests():
    acl = res("aws:wafv2/webAcl:WebAcl", "waf", rules=[{"name": "rate"}])
    r = estimate(acl)
    requests = 5 * 3600 * 730 / 1e6  # 13.14 million
    assert monthly(r, "WAF web ACL") == 5
    assert monthly(r, "WAF rules") == 1
    assert monthly(r, "WAF requests") == round(requests * 0.6, 4)


def test_managed_rule_groups_are_billed_as_rules_and_paid_groups_are_unpriced():
    def managed(name):
        return {"name": name, "statement": {"managedRuleGroupStatement": {"name": name}}}

    acl = res(
        "aws:wafv2/webAcl:WebAcl", "waf",
        rules=[{"name": "rate"}, managed("AWSManagedRulesCommonRuleSet")],
    )  # fmt: skip
    (rules,) = items(estimate(acl), "WAF rules")
    assert (rules["quantity"], rules["monthly"]) == (2, 2.0)
    assert "1 of them AWS managed rule groups" in rules["assumption"]
    bots = res(
        "aws:wafv2/webAcl:WebAcl", "waf", rules=[managed("AWSManagedRulesBotControlRuleSet")]
    )
    assert estimate(bots)["unpriced"] == ["aws:wafv2/webAcl:WebAcl"]


def test_waf_logs_cost_their_own_volume_and_leave_the_task_logs_split_alone():
    def group(logical, name):
        entry = res("aws:cloudwatch/logGroup:LogGroup", logical, retentionInDays=30)
        entry["inputs"]["name"] = name
        return entry

    r = estimate(group("app-logs", "/ecs/x"), group("waf", "aws-waf-logs-x"))
    ingest = {i["resource"]: i["monthly"] for i in items(r, "CloudWatch Logs ingestion")}
    assert ingest == {"app-logs": 2.5, "waf": 0.25}  # 5 GB and 0.5 GB * $0.50


def test_rds_performance_insights_free_tier_and_enhanced_monitoring_ingestion():
    db = res(
        "aws:rds/instance:Instance", "db", engine="postgres", instanceClass="db.t4g.micro",
        storageType="gp3", allocatedStorage=20, backupRetentionPeriod=1,
        performanceInsightsEnabled=True, performanceInsightsRetentionPeriod=7,
        databaseInsightsMode="standard", monitoringInterval=60,
    )  # fmt: skip
    r = estimate(db)
    assert monthly(r, "Performance Insights") == 0
    gb = 730 * 3600 / 60 * 10 / 1e6  # a 10 KB sample a minute
    assert monthly(r, "RDS Enhanced Monitoring (CloudWatch Logs ingestion)") == round(gb * 0.5, 4)
    longer = {**db, "inputs": {**db["inputs"], "performanceInsightsRetentionPeriod": 93}}
    assert estimate(longer)["unpriced"] == ["aws:rds/instance:Instance"]


def test_the_access_log_bucket_costs_storage_until_expiry_and_a_put_per_node_every_5_minutes():
    bucket = res("aws:s3/bucket:Bucket", "logs", bucket="b")
    alb = res(
        "aws:lb/loadBalancer:LoadBalancer", "alb", loadBalancerType="application", internal=True,
        subnets=["a", "b"], accessLogs={"bucket": "b", "enabled": True},
    )  # fmt: skip
    expiry = res(
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "exp", bucket="b",
        rules=[{"status": "Enabled", "expiration": {"days": 30}}],
    )  # fmt: skip
    r = estimate(bucket, alb, expiry)
    written = 5 * 3600 * 730 * 60 / 1e9  # 5 requests/s, 60 gzipped bytes each
    stored = written * 30 / (730 / 24)
    assert monthly(r, "S3 Standard storage") == round(stored * 0.023, 4)
    assert monthly(r, "S3 PUT requests") == round(2 * 12 * 730 / 1000 * 0.005, 4)
    alone = estimate(res("aws:s3/bucket:Bucket", "other", bucket="c"))
    assert alone["unpriced"] == ["aws:s3/bucket:Bucket"], "only access-log buckets are priced"


def test_a_dead_letter_queue_costs_its_few_requests():
    r = estimate(res("aws:sqs/queue:Queue", "dlq"), dead_letters_per_month=1e6)
    assert monthly(r, "SQS requests") == 1.2  # 3 million requests * $0.40


def test_interface_endpoints_cost_per_az():
    endpoint = res(
        "aws:ec2/vpcEndpoint:VpcEndpoint", "ecr", serviceName="com.amazonaws.us-east-1.ecr.dkr",
        vpcEndpointType="Interface", subnetIds=["a", "b"],
    )  # fmt: skip
    assert estimate(endpoint)["monthly_total"] == 14.6  # 2 * 730 * $0.01


def test_ecr_stores_the_images_the_lifecycle_policy_keeps():
    policy = json.dumps(
        {"rules": [{"selection": {"countType": "imageCountMoreThan", "countNumber": 10}}]}
    )
    r = estimate(
        res("aws:ecr/repository:Repository", "repo"),
        res("aws:ecr/lifecyclePolicy:LifecyclePolicy", "lc", policy=policy),
    )
    assert monthly(r, "ECR storage") == round(11 * 0.2 * 0.10, 4)  # 10 images + cache * 0.2 GB


def test_container_insights_metrics_are_billed_when_enabled():
    cluster = res(
        "aws:ecs/cluster:Cluster", "cluster",
        settings=[{"name": "containerInsights", "value": "enabled"}],
    )  # fmt: skip
    r = estimate(cluster, service(), task_definition(), schedule(), task_definition("svc-worker"))
    assert monthly(r, "Container Insights") == 9.0  # 10 metrics * 3 sets * $0.30
    plain = res("aws:ecs/cluster:Cluster", "cluster", settings=[])
    assert not items(estimate(plain), "Container Insights")


def test_an_unknown_billable_type_is_listed_as_unpriced_never_zero():
    r = estimate(
        res("aws:kinesis/stream:Stream", "jobs"), res("aws:secretsmanager/secret:Secret", "s")
    )
    assert r["unpriced"] == ["aws:kinesis/stream:Stream"]
    assert r["monthly_total"] == 0.4
    assert any("jobs" in w and "without a rule" in w for w in r["warnings"])


def test_free_types_and_components_cost_nothing_and_are_not_unpriced():
    r = estimate(
        res("aws:ec2/subnet:Subnet", "s"),
        res("aws:iam/role:Role", "r"),
        res("aws:ec2/securityGroup:SecurityGroup", "g"),
        res("service:infra:Network", "network"),
    )
    assert r["items"] == [] and r["unpriced"] == [] and r["monthly_total"] == 0


def test_every_type_the_program_creates_is_priced_or_known_free(any_stack):
    stack, run = any_stack
    types = {r.type for r in run.resources}
    unknown = {t for t in types if t not in cost.RULES and not cost.is_free(t)}
    assert {t for t in unknown if not cost.is_component(t)} == set(), stack


# ---- the price table ------------------------------------------------------------------------


def test_a_table_without_a_date_is_refused():
    table = copy.deepcopy(TABLE)
    del table["date"]
    with pytest.raises(cost.CostError, match="without the date"):
        cost.parse_prices(table)
    table["date"] = "recently"
    with pytest.raises(cost.CostError, match="without the date"):
        cost.parse_prices(table)


def test_a_table_in_another_currency_is_refused():
    with pytest.raises(cost.CostError, match="currency"):
        cost.parse_prices({**TABLE, "currency": "EUR"})


def test_a_region_missing_from_the_table_is_a_clear_error():
    with pytest.raises(cost.CostError, match="no prices for region 'ap-south-1'"):
        cost.estimate([], stack="x", region="ap-south-1", prices=PRICES)


def test_the_committed_table_is_dated_and_covers_the_stacks_regions():
    table = cost.load_prices()
    assert table.date == "2026-11-30" and table.source
    assert {"us-east-1", "us-west-2", "eu-west-1", "eu-central-1"} <= set(table.regions)
    assert table.region("us-east-1").get("nat_gateway", "hour") == 0.045
    assert table.region("us-east-1").get("public_ipv4", "hour") == 0.005
    assert table.region("us-east-1").verified
    for name, region in table.regions.items():
        assert cost.price_queries(region), name


def test_unverified_regions_say_so():
    r = cost.estimate([PROVIDER], stack="x", region="eu-central-1", prices=cost.load_prices())
    assert r["prices"]["verified"] is False
    assert any("not cross-checked" in w for w in r["warnings"])


# ---- the stacks -----------------------------------------------------------------------------

# The S3 gateway endpoint (every stack) takes the worker's image pulls off NAT; prod's four
# interface endpoints add 4 x 3 AZ x 730 h x $0.01 = $87.60 (issue 20). Every stack's dead-letter
# alarm adds $0.10; prod's managed rule groups $3, WAF logs $0.29, Enhanced Monitoring $0.23 and
# the access-log bucket $0.18 (issue 20, second part). Every stack's dashboard adds $3 and the
# app's own metrics (EMF) $6.30; prod's canary its four release alarms ($1.20) and the second
# target group's unhealthy-hosts metric ($0.10) (issue 19).
STACK_TOTALS = {"dev": 102.34, "staging": 131.77, "prod": 481.93}


@pytest.mark.parametrize("stack", sorted(STACK_TOTALS))
def test_the_three_stacks_monthly_totals(stack):
    """The committed prices and default assumptions (README.md's and docs/deploying.md's tables
    quote these, tests/docs checks README.md: update them when infra/prices.json or a default
    changes)."""
    plan = [to_dict(r) for r in run_stack(stack).resources]
    r = cost.estimate(plan, stack=stack, region="us-east-1", prices=cost.load_prices())
    assert r["unpriced"] == [], r["warnings"]
    assert r["monthly_total"] == pytest.approx(sum(i["monthly"] for i in r["items"]), abs=0.01)
    assert r["monthly_total"] == STACK_TOTALS[stack]


def test_the_cli_prints_the_json_shape(tmp_path):
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps([PROVIDER, res("aws:secretsmanager/secret:Secret", "s")]))
    out = tmp_path / "out.json"
    code = cost_cli(["--stack", "dev", "--plan", str(plan), "--json"], out)
    assert code == 0
    report = json.loads(out.read_text())
    assert set(report) >= {
        "stack", "region", "currency", "monthly_total", "items", "unpriced", "assumptions",
        "prices",
    }  # fmt: skip
    assert report["currency"] == "USD" and report["region"] == "us-east-1"
    assert set(report["items"][0]) >= {
        "resource", "type", "description", "quantity", "unit", "unit_price", "monthly",
    }  # fmt: skip
    assert report["prices"] == {"source": cost.load_prices().source, "date": "2026-11-30",
                                "verified": True}  # fmt: skip


def test_prices_file_overrides_the_committed_table(tmp_path):
    table = copy.deepcopy(TABLE)
    table["regions"]["us-east-1"]["secrets_manager"]["secret_month"] = 1.0
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps(table))
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps([PROVIDER, res("aws:secretsmanager/secret:Secret", "s")]))
    out = tmp_path / "out.json"
    assert (
        cost_cli(["--stack", "x", "--plan", str(plan), "--prices", str(prices), "--json"], out) == 0
    )
    assert json.loads(out.read_text())["monthly_total"] == 1.0


def test_a_dateless_prices_file_is_refused_by_the_cli(tmp_path, capsys):
    table = {k: v for k, v in TABLE.items() if k != "date"}
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps(table))
    assert cost.main(["--stack", "dev", "--plan", "/dev/null", "--prices", str(prices)]) == 2
    assert "without the date" in capsys.readouterr().err


def test_assumptions_are_overridable_and_checked(capsys):
    assert cost.parse_assumptions(["image_gb=0.5"])["image_gb"] == 0.5
    with pytest.raises(cost.CostError, match="NAME one of"):
        cost.parse_assumptions(["imag_gb=1"])


def cost_cli(argv: list[str], out: Path) -> int:
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = cost.main(argv)
    out.write_text(buffer.getvalue())
    return code


# ---- the PR comment section -----------------------------------------------------------------


def test_the_comment_shows_a_new_nat_gateway_as_money():
    base_plan = [PROVIDER, res("aws:secretsmanager/secret:Secret", "secrets-jwt")]
    head_plan = [
        *base_plan,
        res("aws:ec2/natGateway:NatGateway", "network-nat-0"),
        res("aws:ec2/eip:Eip", "network-nat-0"),
    ]
    base = cost.estimate(base_plan, stack="dev", region="us-east-1", prices=PRICES)
    head = cost.estimate(head_plan, stack="dev", region="us-east-1", prices=PRICES)
    md = cost.render_diff(base, head, "dev")
    assert "**$0.40 → $36.90 per month (+$36.50)**" in md
    x = cost.TIMES
    assert (
        f"| +$32.85 | `network-nat-0` NAT gateway hours: 730 hour {x} $0.045 | — | $32.85 |" in md
    )
    assert_golden("cost_comment.md", md)


def test_an_unchanged_estimate_says_so():
    plan = [PROVIDER, res("aws:secretsmanager/secret:Secret", "s")]
    report = cost.estimate(plan, stack="dev", region="us-east-1", prices=PRICES)
    md = cost.render_diff(report, report, "dev")
    assert "(±$0.00)" in md and "No line item changed (1 line items)." in md


def test_the_diff_cli_treats_an_empty_base_as_nothing_deployed(tmp_path):
    head = cost.estimate(
        [PROVIDER, res("aws:secretsmanager/secret:Secret", "s")],
        stack="dev", region="us-east-1", prices=PRICES,
    )  # fmt: skip
    (tmp_path / "base.json").write_text("")
    (tmp_path / "head.json").write_text(json.dumps(head))
    out = tmp_path / "out.md"
    assert cost_cli(["diff", str(tmp_path / "base.json"), str(tmp_path / "head.json")], out) == 0
    assert "$0.00 → $0.40" in out.read_text()


def assert_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), f"{name} differs (UPDATE_GOLDEN=1):\n{text}"


# ---- refresh-prices: the Price List API, stubbed -------------------------------------------


def product(usagetype: str, usd: str, **attributes) -> str:
    return json.dumps(
        {
            "product": {"attributes": {"usagetype": usagetype, **attributes}},
            "terms": {
                "OnDemand": {
                    "T1": {
                        "priceDimensions": {"D1": {"beginRange": "0", "pricePerUnit": {"USD": usd}}}
                    }
                }
            },
        }
    )


@pytest.fixture
def pricing_client():
    client = boto3.client(
        "pricing",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    with Stubber(client) as stubber:
        yield client, stubber


def expect(stubber: Stubber, region: str, query: cost.PriceQuery, price_list: list[str]) -> None:
    filters = [{"Type": "TERM_MATCH", "Field": "regionCode", "Value": region}]
    filters += [{"Type": "TERM_MATCH", "Field": k, "Value": v} for k, v in query.filters]
    stubber.add_response(
        "get_products",
        {"PriceList": price_list, "FormatVersion": "aws_v1"},
        {"ServiceCode": query.service, "Filters": filters, "FormatVersion": "aws_v1",
         "MaxResults": 100},
    )  # fmt: skip


def test_refresh_prices_rebuilds_the_table_from_get_products(pricing_client):
    client, stubber = pricing_client
    table = cost.parse_prices(copy.deepcopy(TABLE))
    region = "us-east-1"
    queries = cost.price_queries(table.regions[region])
    for q in queries:
        if q.path == ("nat_gateway", "hour"):
            # only the product of the queried usage type counts
            listing = [product("NatGateway-Hours", "0.05"), product("USW2-NatGateway-Bytes", "1")]
        elif q.path == ("cloudwatch", "logs_storage_gb_month"):
            listing = []  # not found: the old value is kept and reported
        else:
            listing = [
                product(f"USE1-{q.usagetype}" if q.usagetype else "USE1-InstanceUsage", "0.123")
            ]
        expect(stubber, region, q, listing)
    data, report = cost.refresh_prices(table, [region], client, today="2026-12-01")
    stubber.assert_no_pending_responses()
    prices = data["regions"][region]
    assert prices["nat_gateway"]["hour"] == 0.05
    assert prices["alb"]["lcu_hour"] == 0.123
    assert prices["rds_postgres"]["instance_hour"]["db.t4g.micro"] == 0.123
    assert prices["elasticache"]["node_hour"]["cache.t4g.small"] == 0.123
    assert prices["cloudwatch"]["logs_storage_gb_month"] == 0.03, "kept"
    assert "cloudwatch.logs_storage_gb_month" in prices["notes"]
    assert data["date"] == "2026-12-01" and "Price List API" in data["source"]
    assert report == ["us-east-1: 1 price(s) kept from the previous table"]
    cost.parse_prices(data)  # the result is a valid table


def test_refresh_prices_ignores_ambiguous_answers(pricing_client):
    client, stubber = pricing_client
    query = cost.PriceQuery(("nat_gateway", "hour"), "AmazonEC2", (), "NatGateway-Hours")
    listing = [product("EU-NatGateway-Hours", "0.048"), product("EU-NatGateway-Hours", "0.05")]
    expect(stubber, "eu-west-1", query, listing)
    assert cost.fetch_price(client, "eu-west-1", query) is None


def test_refresh_prices_follows_pagination(pricing_client):
    client, stubber = pricing_client
    query = cost.PriceQuery(("alb", "hour"), "AWSELB", (), "LoadBalancerUsage")
    filters = [{"Type": "TERM_MATCH", "Field": "regionCode", "Value": "us-east-1"}]
    params = {"ServiceCode": "AWSELB", "Filters": filters, "FormatVersion": "aws_v1",
              "MaxResults": 100}  # fmt: skip
    stubber.add_response("get_products", {"PriceList": [], "NextToken": "p2"}, params)
    stubber.add_response(
        "get_products",
        {"PriceList": [product("LoadBalancerUsage", "0.0225")]},
        {**params, "NextToken": "p2"},
    )
    assert cost.fetch_price(client, "us-east-1", query) == 0.0225


def test_refresh_prices_without_credentials_is_refused(monkeypatch, tmp_path, capsys):
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    output = tmp_path / "prices.json"
    assert cost.main(["refresh-prices", "--output", str(output)]) == 2
    assert "needs AWS credentials" in capsys.readouterr().err
    assert not output.exists()


def test_refresh_prices_cli_writes_the_table(pricing_client, tmp_path):
    client, stubber = pricing_client
    table = copy.deepcopy(TABLE)
    source = tmp_path / "in.json"
    source.write_text(json.dumps(table))
    for q in cost.price_queries(table["regions"]["us-east-1"]):
        expect(stubber, "us-east-1", q, [product(q.usagetype or "InstanceUsage", "0.5")])
    output = tmp_path / "out.json"
    argv = ["--prices", str(source), "--output", str(output), "--region", "us-east-1"]
    assert cost._main_refresh(argv, client=client) == 0
    refreshed = cost.load_prices(output)
    assert refreshed.region("us-east-1").get("nat_gateway", "gb") == 0.5
    assert refreshed.region("us-east-1").verified
