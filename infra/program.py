"""The whole stack, composed in the order of the architecture diagram.

config -> provider (default tags) -> network -> registry -> image -> secrets -> database -> cache
-> load balancer -> alarms -> service (+ its ECS runtime, autoscaling) -> scheduled worker (on the
same runtime) -> service alarms -> dashboard -> outputs

The load balancer comes before the service because the service may register only once its target
group is attached to a listener; the alarms too, because a blue/green or canary service names the
release alarms it rolls back on.
"""

from __future__ import annotations

import os

import pulumi
import pulumi_aws as aws

from infra.components.access_logs import AccessLogsArgs
from infra.components.alarms import Alarms, AlarmsArgs
from infra.components.autoscaling import ScalingArgs
from infra.components.cache import Cache, CacheArgs
from infra.components.dashboard import Dashboard, DashboardArgs
from infra.components.database import Database, DatabaseArgs
from infra.components.deployment import DeploymentArgs
from infra.components.ecs_runtime import AppEnvironment, AppSecrets, EcsRuntimeArgs, TaskNetwork
from infra.components.image import Image, ImageArgs, PrebuiltImage, PrebuiltImageArgs
from infra.components.load_balancer import LoadBalancer, LoadBalancerArgs
from infra.components.network import Network, NetworkArgs
from infra.components.registry import Registry, RegistryArgs
from infra.components.scheduler import Scheduler, SchedulerArgs
from infra.components.secrets import Secrets, SecretsArgs
from infra.components.service import LoadBalancerTarget, Service, ServiceArgs
from infra.components.waf import WafArgs
from infra.config import DEPLOYMENT_STRATEGIES, REPO_ROOT, StackConfig

# uvicorn must keep idle connections open longer than the ALB does (else: sporadic 502s).
KEEP_ALIVE_MARGIN_SECONDS = 15


def build_context() -> str:
    """The repository root relative to the working directory Pulumi runs the program in."""
    return os.path.relpath(REPO_ROOT, os.getcwd())


def build(cfg: StackConfig) -> dict[str, pulumi.Output]:
    """Declare every resource of the stack; returns the stack outputs."""
    provider = aws.Provider(
        "aws",
        region=cfg.region,
        default_tags=aws.ProviderDefaultTagsArgs(tags=cfg.default_tags),
    )
    opts = pulumi.ResourceOptions(providers={"aws": provider})
    recovery_window = 0 if cfg.ephemeral else 30

    network = Network(
        "network",
        NetworkArgs(
            cidr=cfg.network.vpc_cidr,
            availability_zones=cfg.network.availability_zones,
            nat_gateways=cfg.network.nat_gateways,
            region=cfg.region,
            interface_endpoints=cfg.network.interface_endpoints,
        ),
        opts,
    )
    # Where the service's and the worker's tasks run. Without NAT (a dev cost opt-out): in public
    # subnets with a public IP.
    public = cfg.network.tasks_in_public_subnets
    task_network = TaskNetwork(
        subnet_ids=network.public_subnet_ids if public else network.private_subnet_ids,
        security_group_id=network.task_sg.id,
        assign_public_ip=public,
    )

    registry = Registry(
        "registry",
        RegistryArgs(
            immutable_tags=cfg.protect,
            force_delete=cfg.ephemeral,
            protect=cfg.protect,
        ),
        opts,
    )
    image = service_image(cfg, registry, opts)
    secrets = Secrets(
        "secrets",
        SecretsArgs(prefix=cfg.prefix, recovery_window_days=recovery_window, protect=cfg.protect),
        opts,
    )
    database = Database(
        "database",
        DatabaseArgs(
            prefix=cfg.prefix,
            subnet_ids=network.private_subnet_ids,
            security_group_id=network.db_sg.id,
            instance_class=cfg.database.instance_class,
            engine_version=cfg.database.engine_version,
            allocated_storage=cfg.database.allocated_storage,
            max_allocated_storage=cfg.database.max_allocated_storage,
            multi_az=cfg.database.multi_az,
            backup_retention_days=cfg.database.backup_retention_days,
            db_name=cfg.database.name,
            username=cfg.database.username,
            deletion_protection=cfg.protect,
            skip_final_snapshot=cfg.ephemeral,
            apply_immediately=not cfg.protect,
            protect=cfg.protect,
            log_retention_days=cfg.operations.log_retention_days,
            performance_insights=cfg.database.performance_insights,
            monitoring_interval=cfg.database.monitoring_interval,
            region=cfg.region,
            iam_path=f"/{cfg.prefix}/",
            permissions_boundary=cfg.permissions_boundary_arn,
        ),
        opts,
    )
    cache = Cache(
        "cache",
        CacheArgs(
            prefix=cfg.prefix,
            subnet_ids=network.private_subnet_ids,
            security_group_id=network.cache_sg.id,
            node_type=cfg.cache.node_type,
            nodes=cfg.cache.nodes,
            engine_version=cfg.cache.engine_version,
            recovery_window_days=recovery_window,
            apply_immediately=not cfg.protect,
            protect=cfg.protect,
        ),
        opts,
    )
    load_balancer = LoadBalancer(
        "web",
        LoadBalancerArgs(
            vpc_id=network.vpc_id,
            subnet_ids=network.public_subnet_ids,
            security_group_id=network.alb_sg.id,
            certificate_arn=cfg.web.certificate_arn,
            ssl_policy=cfg.web.ssl_policy,
            idle_timeout_seconds=cfg.web.idle_timeout_seconds,
            deletion_protection=cfg.protect,
            blue_green=cfg.release.deployment_strategy != "rolling",
            waf=(
                WafArgs(
                    rate_limit=cfg.web.waf_rate_limit,
                    prefix=cfg.prefix,
                    log_retention_days=cfg.operations.log_retention_days,
                    region=cfg.region,
                )
                if cfg.web.waf_enabled
                else None
            ),
            access_logs=(
                AccessLogsArgs(
                    prefix=cfg.prefix,
                    region=cfg.region,
                    expire_days=cfg.web.access_logs_expire_days,
                    force_destroy=cfg.ephemeral,
                    protect=cfg.protect,
                )
                if cfg.web.access_logs
                else None
            ),
        ),
        opts,
    )
    alarms = Alarms(
        "alarms",
        AlarmsArgs(
            thresholds=cfg.operations.alarms,
            email=cfg.operations.alarm_email,
            external_topic_arn=cfg.operations.alarm_topic_arn,
            alb_arn_suffix=load_balancer.arn_suffix,
            target_group_arn_suffixes=load_balancer.target_group_arn_suffixes,
            db_identifier=database.identifier,
            cache_node_ids=cache.node_ids,
            prefix=cfg.prefix,
            release_alarms=load_balancer.production_rule is not None,
            app_namespace=cfg.metrics_namespace,
        ),
        opts,
    )
    service = Service(
        "app",
        ServiceArgs(
            runtime=EcsRuntimeArgs(
                prefix=cfg.prefix,
                region=cfg.region,
                image=image.image_ref,
                cpu_architecture=cfg.task.cpu_architecture,
                cpu=cfg.task.cpu,
                memory=cfg.task.memory,
                log_retention_days=cfg.operations.log_retention_days,
                enable_execute_command=cfg.task.enable_execute_command,
                app=AppEnvironment(
                    environment=cfg.environment,
                    vpc_cidr=cfg.network.vpc_cidr,
                    db_host=database.address,
                    db_name=database.db_name,
                    keep_alive_seconds=cfg.web.idle_timeout_seconds + KEEP_ALIVE_MARGIN_SECONDS,
                    metrics_namespace=cfg.metrics_namespace,
                    rate_limits=cfg.task.rate_limits,
                ),
                secrets=AppSecrets(
                    db_secret_arn=database.secret_arn,
                    jwt_secret_arn=secrets.jwt_secret_arn,
                    redis_url_secret_arn=cache.url_secret_arn,
                ),
                permissions_boundary=cfg.permissions_boundary_arn,
            ),
            network=task_network,
            target=LoadBalancerTarget(
                target_group_arn=load_balancer.target_group.arn,
                target_group_arn_suffix=load_balancer.target_group_arn_suffix,
                alb_arn_suffix=load_balancer.arn_suffix,
                listener=load_balancer.listener,
            ),
            scaling=ScalingArgs(
                desired_count=cfg.task.desired_count,
                min_count=cfg.task.min_count,
                max_count=cfg.task.max_count,
                cpu_target=cfg.task.scale_cpu_target,
                requests_per_target=cfg.task.scale_requests_per_target,
            ),
            health_check_grace_seconds=cfg.task.health_check_grace_seconds,
            deployment=deployment_args(cfg, load_balancer, alarms),
        ),
        opts,
    )
    scheduler = Scheduler(
        "worker",
        SchedulerArgs(
            runtime=service.runtime,
            network=task_network,
            schedule=cfg.operations.worker_schedule,
            enabled=cfg.operations.worker_enabled,
        ),
        opts,
    )
    alarms.watch_service(
        service.cluster_name, service.service_name, scheduler.dead_letter_queue.name
    )
    dashboard = Dashboard(
        "dashboard",
        DashboardArgs(
            name=cfg.prefix,
            region=cfg.region,
            app_namespace=cfg.metrics_namespace,
            alb_arn_suffix=load_balancer.arn_suffix,
            target_group_arn_suffixes=load_balancer.target_group_arn_suffixes,
            cluster_name=service.cluster_name,
            service_name=service.service_name,
            db_identifier=database.identifier,
            cache_node_ids=cache.node_ids,
            release_alarm_arns=alarms.release_alarm_arns,
        ),
        opts,
    )

    host = cfg.web.domain_name or load_balancer.dns_name
    return {
        "serviceUrl": pulumi.Output.concat(load_balancer.scheme, "://", host),
        "loadBalancerDns": load_balancer.dns_name,
        "repositoryUrl": registry.repository_url,
        "imageRef": image.image_ref,
        "imageTag": pulumi.Output.from_input(image.tag),
        "clusterName": service.cluster_name,
        "serviceName": service.service_name,
        "logGroup": service.log_group_name,
        "workerTaskDefinition": scheduler.task_definition.family,
        "alarmTopicArn": alarms.topic_arn,
        "dashboardUrl": dashboard.url,
        "databaseSecretArn": database.secret_arn,
    }


def deployment_args(
    cfg: StackConfig, load_balancer: LoadBalancer, alarms: Alarms
) -> DeploymentArgs | None:
    """Blue/green or canary (None: rolling): the second target group, the production listener
    rule ECS shifts and the release alarms it rolls back on."""
    if load_balancer.production_rule is None or load_balancer.alternate_target_group is None:
        return None
    release = cfg.release
    canary = release.deployment_strategy == "canary"
    return DeploymentArgs(
        strategy=DEPLOYMENT_STRATEGIES[release.deployment_strategy],
        bake_time_minutes=release.bake_time_minutes,
        alternate_target_group_arn=load_balancer.alternate_target_group.arn,
        alternate_target_group_arn_suffix=load_balancer.alternate_target_group.arn_suffix,
        production_rule=load_balancer.production_rule,
        alarm_names=alarms.release_alarm_names,
        canary_percent=release.canary_percent if canary else None,
        canary_bake_time_minutes=release.canary_bake_time_minutes if canary else None,
    )


def service_image(
    cfg: StackConfig, registry: Registry, opts: pulumi.ResourceOptions
) -> Image | PrebuiltImage:
    """The image every container runs: ``imageRef`` (promotion, rollback: nothing is built) or
    a build of this commit pushed to the stack's registry."""
    prebuilt = cfg.release.image_repository
    if prebuilt is not None:
        return PrebuiltImage(
            "image",
            PrebuiltImageArgs(
                image_ref=cfg.release.image_ref,
                registry_id=prebuilt["account"],
                repository_name=prebuilt["name"],
                digest=prebuilt["digest"],
            ),
            opts,
        )
    context = build_context()
    return Image(
        "image",
        ImageArgs(
            repository_url=registry.repository_url,
            registry_id=registry.registry_id,
            tag=cfg.release.image_tag,
            platform=cfg.task.platform,
            context=context,
            dockerfile=os.path.normpath(os.path.join(context, "Dockerfile")),
        ),
        opts,
    )


def main(*, offline: bool = False) -> dict[str, pulumi.Output]:
    """Entry point for ``pulumi up`` and, with ``offline=True``, for the mocked plan (which
    accepts the committed placeholder values): load config, build, export."""
    outputs = build(StackConfig.load(offline=offline))
    for key, value in outputs.items():
        pulumi.export(key, value)
    return outputs
