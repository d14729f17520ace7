"""StackConfig: the validated configuration of one stack of the program, and its reader."""

from __future__ import annotations

import ipaddress
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi

from infra import catalog
from infra.components.alarms import AlarmThresholds
from infra.components.cache import REDIS_ID_SUFFIX, REPLICATION_GROUP_ID_MAX
from infra.config.rate_limits import RATE_LIMIT_VARIABLES, valid_rate_limit
from infra.config.reader import REPO_ROOT, ConfigError, ConfigReader
from infra.config.review import derive_review_config
from infra.review import review_number

ENVIRONMENTS = ("dev", "staging", "prod")
NAT_MODES = ("none", "single", "per-az")
CPU_ARCHITECTURES = {"X86_64": "linux/amd64", "ARM64": "linux/arm64"}
# Fargate's valid task sizes: cpu units -> allowed memory (MiB).
FARGATE_SIZES: dict[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4097, 1024)),
    1024: tuple(range(2048, 8193, 1024)),
    2048: tuple(range(4096, 16385, 1024)),
    4096: tuple(range(8192, 30721, 1024)),
}
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
# service:deploymentStrategy -> ECS's deploymentConfiguration.strategy. blue_green and canary shift
# the ALB's production listener rule between two target groups (infra/components/deployment.py).
DEPLOYMENT_STRATEGIES = {"rolling": "ROLLING", "blue_green": "BLUE_GREEN", "canary": "CANARY"}
# The release alarms need up to three one-minute datapoints plus CloudWatch's publication delay:
# a shorter canary or final bake would move on before they could fire.
MIN_BAKE_MINUTES = 5
MAX_BAKE_MINUTES = 1440  # ECS's upper bound for both bake times
_SCHEDULE = re.compile(r"^(rate\(\d+ (minute|minutes|hour|hours|day|days)\)|cron\(.+\))$")
_AZ = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d[a-z]$")
_ACM_ARN = re.compile(
    r"^arn:aws[a-z-]*:acm:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):certificate/(?P<id>[0-9a-f-]+)$"
)
_IAM_POLICY_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:policy/[\w+=,.@/-]{1,512}$")
_SNS_ARN = re.compile(r"^arn:aws[a-z-]*:sns:(?P<region>[a-z0-9-]+):\d{12}:[A-Za-z0-9_-]{1,256}$")
# An image already in ECR, by digest: what promotion and rollback deploy (nothing is built).
_IMAGE_REF = catalog.ECR_IMAGE_REF
# Values committed as examples that must never reach AWS: `pulumi up` refuses them (offline plans
# and PR diffs accept them, so a fresh clone can plan prod). Account 123456789012 is the one AWS
# documentation uses; example.com cannot receive mail.
PLACEHOLDER_ACCOUNT = "123456789012"
_PLACEHOLDER_EMAIL = re.compile(r"@example\.(com|org|net)$", re.IGNORECASE)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Physical names start with "<project>-<stack>" (see valid_name_prefix).
_NAME_PREFIX = re.compile(r"^[a-z][a-z0-9-]*[a-z0-9]$")
NAME_PREFIX_MAX = REPLICATION_GROUP_ID_MAX - len(REDIS_ID_SUFFIX)

_ALARM_KEYS = {
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
}


@dataclass(frozen=True)
class StackConfig:
    """Validated configuration of one stack. Build it with :meth:`load`."""

    project: str
    stack: str
    environment: str
    region: str
    ephemeral: bool
    protect: bool
    # network
    vpc_cidr: str
    availability_zones: tuple[str, ...]
    nat_gateways: str
    interface_endpoints: bool
    # image / task
    image_tag: str
    image_ref: str | None  # set: run this ECR digest, build nothing (promotion, rollback)
    cpu_architecture: str
    task_cpu: int
    task_memory: int
    desired_count: int
    min_count: int
    max_count: int
    health_check_grace_seconds: int
    deployment_strategy: str  # a key of DEPLOYMENT_STRATEGIES
    bake_time_minutes: int  # blue_green, canary: both revisions run after the full shift
    canary_percent: float  # canary: the first share of production traffic
    canary_bake_time_minutes: int  # canary: how long that share is watched
    enable_execute_command: bool
    log_retention_days: int
    rate_limits: dict[str, str]
    # database
    db_instance_class: str
    db_engine_version: str
    db_allocated_storage: int
    db_max_allocated_storage: int
    db_multi_az: bool
    db_backup_retention_days: int
    db_name: str
    db_username: str
    db_performance_insights: bool  # free tier: 7 days of history, Database Insights standard
    db_monitoring_interval: int  # Enhanced Monitoring seconds; 0 = off
    # cache
    cache_node_type: str
    cache_nodes: int
    cache_engine_version: str
    # load balancer
    certificate_arn: str | None
    require_https: bool
    ssl_policy: str
    idle_timeout_seconds: int
    domain_name: str | None
    # operations (issue 7)
    worker_enabled: bool
    worker_schedule: str
    scale_cpu_target: float
    scale_requests_per_target: int
    alarm_email: str | None
    alarm_topic_arn: str | None
    alarms: AlarmThresholds
    waf_enabled: bool
    waf_rate_limit: int
    alb_access_logs: bool
    alb_access_logs_expire_days: int
    permissions_boundary_arn: str | None
    tags: dict[str, str] = field(default_factory=dict)

    # ---- derived values -------------------------------------------------------------------
    @property
    def platform(self) -> str:
        """The docker build platform matching the task's runtime platform."""
        return CPU_ARCHITECTURES[self.cpu_architecture]

    @property
    def tasks_in_public_subnets(self) -> bool:
        """Without NAT the tasks need a public IP to reach ECR, Secrets Manager and Logs."""
        return self.nat_gateways == "none"

    @property
    def metrics_namespace(self) -> str:
        """CloudWatch namespace of the app's own metrics (METRICS_NAMESPACE), e.g. service/prod."""
        return f"{self.project}/{self.stack}"

    @property
    def https(self) -> bool:
        return self.certificate_arn is not None

    @property
    def prefix(self) -> str:
        """Short physical-name prefix, e.g. ``service-prod``."""
        return f"{self.project}-{self.stack}"

    @property
    def default_tags(self) -> dict[str, str]:
        return {
            "project": self.project,
            "stack": self.stack,
            "environment": self.environment,
            "managed-by": "pulumi",
            **self.tags,
        }

    @property
    def image_repository(self) -> dict[str, str] | None:
        """``image_ref`` split into registry, account, region, repository and digest."""
        if self.image_ref is None:
            return None
        match = _IMAGE_REF.match(self.image_ref)
        assert match is not None  # validated by the reader
        return match.groupdict()

    # ---- loading ----------------------------------------------------------------------------
    @classmethod
    def load(cls, *, offline: bool = False) -> StackConfig:
        """Read and validate the current stack's configuration.

        ``offline`` (the mocked plan and its tests) accepts the committed placeholder values
        that a real preview or update refuses.
        """
        project, stack = pulumi.get_project(), pulumi.get_stack()
        # Review stacks (pr-<n>) have no stack file: their values are derived from staging's.
        derived = derive_review_config(stack, project) if review_number(stack) is not None else None
        return StackReader(project, stack, offline=offline, derived=derived).read()


class StackReader(ConfigReader):
    """Reads and validates every key of the program's stack configuration."""

    def read(self) -> StackConfig:
        self._check_name_prefix()
        self.check_unknown_keys()
        config = self._read()
        if not self.offline:
            self._refuse_placeholders(config)
        return config

    def _refuse_placeholders(self, config: StackConfig) -> None:
        certificate = _ACM_ARN.match(config.certificate_arn or "")
        if certificate and (
            certificate["account"] == PLACEHOLDER_ACCOUNT or not certificate["id"].strip("0-")
        ):
            raise ConfigError(
                f"{self.project}:certificateArn in stack '{self.stack}': the committed placeholder "
                f"{config.certificate_arn!r} is not a certificate; request one in ACM "
                f"({config.region}) and run `pulumi config set {self.project}:certificateArn "
                f"<arn> --stack {self.stack}`"
            )
        if config.alarm_email and _PLACEHOLDER_EMAIL.search(config.alarm_email):
            raise ConfigError(
                f"{self.project}:alarmEmail in stack '{self.stack}': the committed placeholder "
                f"{config.alarm_email!r} reaches nobody; run `pulumi config set "
                f"{self.project}:alarmEmail <on-call address> --stack {self.stack}` (or set "
                f"{self.project}:alarmTopicArn to an existing SNS topic)"
            )

    def _read(self) -> StackConfig:
        stack = self.stack
        environment = self.string("environment") or stack
        if environment not in ENVIRONMENTS:
            self.fail(
                "environment",
                "one of " + ", ".join(ENVIRONMENTS) + " (defaults to the stack name)",
                environment,
            )

        region = self.get("aws", "region")
        if not region:
            self.fail("region", "an AWS region such as us-east-1", namespace="aws")

        vpc_cidr = self.string("vpcCidr", "10.0.0.0/16")
        try:
            network = ipaddress.ip_network(vpc_cidr)
        except ValueError:
            self.fail("vpcCidr", "an IPv4 CIDR block such as 10.0.0.0/16", vpc_cidr)
        if network.version != 4 or not 16 <= network.prefixlen <= 20:
            self.fail("vpcCidr", "an IPv4 CIDR block between /16 and /20", vpc_cidr)

        azs = self.obj("availabilityZones", "a list of availability zone names")
        if azs is None or azs == []:  # [] is the Pulumi.yaml default (the engine needs one)
            azs = [f"{region}{suffix}" for suffix in "ab"]
        if (
            not isinstance(azs, list)
            or not 2 <= len(azs) <= 3
            or not all(isinstance(a, str) and _AZ.match(a) and a.startswith(region) for a in azs)
            or len(set(azs)) != len(azs)
        ):
            self.fail(
                "availabilityZones",
                f"a list of 2 or 3 distinct availability zones in {region}",
                azs,
            )

        cpu = self.integer("taskCpu", 256, choices=tuple(FARGATE_SIZES))
        memory = self.integer("taskMemory", 512)
        if memory not in FARGATE_SIZES[cpu]:
            allowed = ", ".join(str(m) for m in FARGATE_SIZES[cpu])
            self.fail(
                "taskMemory", f"a Fargate memory size for taskCpu={cpu}: one of {allowed}", memory
            )

        desired = self.integer("desiredCount", 1, minimum=1, maximum=50)
        min_count = self.integer("minCount", desired, minimum=1, maximum=50)
        max_count = self.integer("maxCount", max(desired, min_count), minimum=1, maximum=100)
        if not min_count <= desired <= max_count:
            self.fail(
                "desiredCount",
                f"minCount ({min_count}) <= desiredCount <= maxCount ({max_count})",
                desired,
            )

        certificate_arn = self.string(
            "certificateArn", pattern=_ACM_ARN, expected="an ACM certificate ARN"
        )
        if certificate_arn and _ACM_ARN.match(certificate_arn)["region"] != region:
            self.fail(
                "certificateArn",
                f"a certificate in the stack's region {region} (an ALB can only use a "
                "certificate from its own region)",
                certificate_arn,
            )
        require_https = self.boolean("requireHttps", False)
        if require_https and certificate_arn is None:
            self.fail("certificateArn", "an ACM certificate ARN because requireHttps is true")
        domain_name = self.string("domainName")
        if certificate_arn and domain_name is None:
            # https://<the ALB's own DNS name> can never match an ACM certificate: clients and the
            # deploy's smoke check would refuse the TLS handshake.
            self.fail(
                "domainName",
                "the DNS name the certificate covers (pointed at the ALB) because certificateArn "
                "is set",
            )

        db_instance_class = self.listed(
            "dbInstanceClass", "db.t4g.micro", catalog.RDS_INSTANCE_CLASSES, "a DB instance class"
        )
        db_performance_insights = self.boolean("dbPerformanceInsights", False)
        if db_performance_insights and not catalog.performance_insights_supported(
            "postgres", db_instance_class
        ):
            self.fail(
                "dbPerformanceInsights",
                f"false: RDS for PostgreSQL has no Performance Insights on {db_instance_class}",
                True,
            )

        db_storage = self.integer("dbAllocatedStorage", 20, minimum=20, maximum=65536)
        db_max_storage = self.integer(
            "dbMaxAllocatedStorage", db_storage * 5, minimum=db_storage, maximum=65536
        )

        cache_nodes = self.integer("cacheNodes", 1, minimum=1, maximum=6)

        rate_limits = self.obj("rateLimits", "a map of RATE_LIMIT_* names to values") or {}
        if not isinstance(rate_limits, dict):
            self.fail("rateLimits", "a map of RATE_LIMIT_* names to values", rate_limits)
        unknown = sorted(set(rate_limits) - RATE_LIMIT_VARIABLES)
        if unknown:
            self.fail(
                "rateLimits",
                "keys among the service's settings: " + ", ".join(sorted(RATE_LIMIT_VARIABLES)),
                unknown,
            )
        invalid = {
            name: value for name, value in rate_limits.items() if not valid_rate_limit(value)
        }
        if invalid:
            self.fail(
                "rateLimits", "limits such as '10/second' or '5/minute' (or booleans)", invalid
            )

        tags = self.obj("tags", "a map of tag names to values") or {}
        if not isinstance(tags, dict):
            self.fail("tags", "a map of tag names to values", tags)

        ephemeral = self.boolean("ephemeral", False)
        protect = self.boolean("protect", False)
        if ephemeral and protect:
            self.fail(
                "protect",
                "false because ephemeral is true (a disposable stack cannot protect its data)",
                True,
            )

        alarm_email = self.string("alarmEmail", pattern=_EMAIL, expected="an email address")
        alarm_topic_arn = self.string(
            "alarmTopicArn",
            pattern=_SNS_ARN,
            expected=f"an SNS topic ARN in {region} (PagerDuty, Chatbot, ...)",
        )
        if alarm_topic_arn and _SNS_ARN.match(alarm_topic_arn)["region"] != region:
            self.fail(
                "alarmTopicArn", f"an SNS topic in the stack's region {region}", alarm_topic_arn
            )
        if protect and not (alarm_email or alarm_topic_arn):
            self.fail(
                "alarmEmail",
                "an on-call address (or alarmTopicArn, an existing SNS topic) because protect is "
                "true: alarms of a protected stack must reach someone",
            )

        return StackConfig(
            project=self.project,
            stack=stack,
            environment=environment,
            region=region,
            ephemeral=ephemeral,
            protect=protect,
            vpc_cidr=str(network),
            availability_zones=tuple(azs),
            nat_gateways=self.choice("natGateways", "single", NAT_MODES),
            interface_endpoints=self.boolean("interfaceEndpoints", False),
            image_tag=self._image_tag(),
            image_ref=self._image_ref(region),
            cpu_architecture=self.choice("cpuArchitecture", "X86_64", tuple(CPU_ARCHITECTURES)),
            task_cpu=cpu,
            task_memory=memory,
            desired_count=desired,
            min_count=min_count,
            max_count=max_count,
            health_check_grace_seconds=self.integer(
                "healthCheckGraceSeconds", 60, minimum=0, maximum=2147483647
            ),
            deployment_strategy=self.choice(
                "deploymentStrategy", "rolling", tuple(DEPLOYMENT_STRATEGIES)
            ),
            bake_time_minutes=self.integer(
                "bakeTimeMinutes", 5, minimum=MIN_BAKE_MINUTES, maximum=MAX_BAKE_MINUTES
            ),
            canary_percent=self._canary_percent(),
            canary_bake_time_minutes=self.integer(
                "canaryBakeTimeMinutes", 5, minimum=MIN_BAKE_MINUTES, maximum=MAX_BAKE_MINUTES
            ),
            enable_execute_command=self.boolean("enableExecuteCommand", False),
            log_retention_days=self.integer("logRetentionDays", 30, choices=LOG_RETENTION_DAYS),
            rate_limits={k: str(v) for k, v in sorted(rate_limits.items())},
            db_instance_class=db_instance_class,
            db_engine_version=self.checked(
                "dbEngineVersion",
                "16",
                catalog.rds_engine_version_ok,
                "an RDS PostgreSQL version: a major ("
                + ", ".join(sorted(catalog.RDS_POSTGRES_MAJOR_VERSIONS, key=int))
                + ") or major.minor such as 16.4",
            ),
            db_allocated_storage=db_storage,
            db_max_allocated_storage=db_max_storage,
            db_multi_az=self.boolean("dbMultiAz", False),
            db_backup_retention_days=self.integer(
                "dbBackupRetentionDays", 7, minimum=1, maximum=35
            ),
            db_name=self.string(
                "dbName",
                "app",
                pattern=re.compile(r"^[a-z][a-z0-9_]{0,62}$"),
                expected="a lowercase PostgreSQL identifier",
            ),
            db_username=self.string(
                "dbUsername",
                "app_admin",
                pattern=re.compile(r"^[a-z][a-z0-9_]{0,15}$"),
                expected="a lowercase identifier of at most 16 characters",
            ),
            db_performance_insights=db_performance_insights,
            db_monitoring_interval=self.integer(
                "dbMonitoringInterval", 0, choices=catalog.RDS_MONITORING_INTERVALS
            ),
            cache_node_type=self.listed(
                "cacheNodeType",
                "cache.t4g.micro",
                catalog.ELASTICACHE_NODE_TYPES,
                "an ElastiCache node type",
            ),
            cache_nodes=cache_nodes,
            cache_engine_version=self.checked(
                "cacheEngineVersion",
                "7.1",
                catalog.cache_engine_version_ok,
                "a Redis OSS engine version: "
                + ", ".join(sorted(catalog.ELASTICACHE_REDIS_VERSIONS)),
            ),
            certificate_arn=certificate_arn,
            require_https=require_https,
            ssl_policy=self.listed(
                "sslPolicy",
                "ELBSecurityPolicy-TLS13-1-2-2021-06",
                catalog.ELB_SSL_POLICIES,
                "a predefined ALB security policy",
            ),
            idle_timeout_seconds=self.integer("idleTimeoutSeconds", 60, minimum=1, maximum=4000),
            domain_name=domain_name,
            worker_enabled=self.boolean("workerEnabled", True),
            worker_schedule=self.string(
                "workerSchedule",
                "rate(1 minute)",
                pattern=_SCHEDULE,
                expected="rate(N minutes) or cron(...)",
            ),
            scale_cpu_target=self.number("scaleCpuTarget", 60.0, minimum=1.0),
            scale_requests_per_target=self.integer("scaleRequestsPerTarget", 500, minimum=1),
            alarm_email=alarm_email,
            alarm_topic_arn=alarm_topic_arn,
            alarms=self._alarms(),
            waf_enabled=self.boolean("wafEnabled", False),
            waf_rate_limit=self.integer("wafRateLimit", 2000, minimum=10, maximum=2000000000),
            alb_access_logs=self.boolean("albAccessLogs", False),
            alb_access_logs_expire_days=self.integer(
                "albAccessLogsExpireDays", 90, minimum=1, maximum=3650
            ),
            permissions_boundary_arn=self.string(
                "permissionsBoundaryArn",
                pattern=_IAM_POLICY_ARN,
                expected="an IAM policy ARN (the bootstrap output permissionsBoundaryArn)",
            ),
            tags={str(k): str(v) for k, v in tags.items()},
        )

    def _check_name_prefix(self) -> None:
        prefix = f"{self.project}-{self.stack}"
        if not valid_name_prefix(prefix):
            raise ConfigError(
                f"stack name '{self.stack}' of project '{self.project}': expected lowercase "
                f"letters, digits and single hyphens, starting with a letter, with "
                f"'{self.project}-<stack>' at most {NAME_PREFIX_MAX} characters (it prefixes the "
                f"RDS identifier and the ElastiCache replication group id), got {prefix!r}"
            )

    def _image_tag(self) -> str:
        tag = self.string(
            "imageTag",
            pattern=re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"),
            expected="a docker tag",
        )
        if tag:
            return tag
        commit = git_commit()
        if commit is None:
            self.fail("imageTag", "a docker tag, because `git rev-parse HEAD` found no commit")
        return commit

    def _image_ref(self, region: str) -> str | None:
        ref = self.string(
            "imageRef",
            pattern=_IMAGE_REF,
            expected="an ECR image by digest: <account>.dkr.ecr.<region>.amazonaws.com/<repo>"
            "@sha256:<64 hex> (empty: build from source)",
        )
        if ref and _IMAGE_REF.match(ref)["region"] != region:
            self.fail("imageRef", f"an image in the stack's region {region}", ref)
        return ref

    def _canary_percent(self) -> float:
        """ECS takes 0.1 to 100 percent in steps of 0.1 (CanaryConfiguration.canaryPercent)."""
        expected = "a percentage from 0.1 to 100 in steps of 0.1"
        value = self.raw("canaryPercent")
        if value is None:
            return 10.0
        try:
            tenths = float(value) * 10
        except ValueError:
            self.fail("canaryPercent", expected, value)
        if not 1 <= tenths <= 1000 or abs(tenths - round(tenths)) > 1e-6:  # NaN fails too
            self.fail("canaryPercent", expected, value)
        return round(tenths) / 10

    def _alarms(self) -> AlarmThresholds:
        values = self.obj("alarms", "a map of alarm thresholds") or {}
        if not isinstance(values, dict):
            self.fail("alarms", "a map of alarm thresholds", values)
        kwargs: dict[str, Any] = {}
        for key, value in values.items():
            if key not in _ALARM_KEYS:
                self.fail(f"alarms.{key}", "one of " + ", ".join(sorted(_ALARM_KEYS)), key)
            attr, kind = _ALARM_KEYS[key]
            try:
                number = kind(value)
            except (TypeError, ValueError):
                self.fail(f"alarms.{key}", f"a {'whole ' if kind is int else ''}number", value)
            if number <= 0:
                self.fail(f"alarms.{key}", "a positive number", value)
            kwargs[attr] = number
        return AlarmThresholds(**kwargs)


def valid_name_prefix(prefix: str) -> bool:
    """``<project>-<stack>`` starts physical names with the strictest AWS rules: the
    ElastiCache replication group id (<= 40 characters, lowercase letters, digits and single
    hyphens, starting with a letter) and the RDS identifier (the same character rules)."""
    fits = len(prefix) <= NAME_PREFIX_MAX
    return bool(_NAME_PREFIX.match(prefix)) and "--" not in prefix and fits


def git_commit(root: Path = REPO_ROOT) -> str | None:
    """The full commit SHA of HEAD (the image tag: never reused for a different build), or None
    outside a git checkout with commits."""
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"],  # noqa: S607 (git from PATH)
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    commit = result.stdout.strip()
    return commit if result.returncode == 0 and commit else None
