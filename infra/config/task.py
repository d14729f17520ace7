"""The service's tasks: size, platform, count and scaling, ECS Exec, their RATE_LIMIT_* settings."""

from __future__ import annotations

from dataclasses import dataclass

from infra.config.rate_limits import RATE_LIMIT_VARIABLES, valid_rate_limit
from infra.config.reader import ConfigReader

CPU_ARCHITECTURES = {"X86_64": "linux/amd64", "ARM64": "linux/arm64"}
# Fargate's valid task sizes: cpu units -> allowed memory (MiB).
FARGATE_SIZES: dict[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4097, 1024)),
    1024: tuple(range(2048, 8193, 1024)),
    2048: tuple(range(4096, 16385, 1024)),
    4096: tuple(range(8192, 30721, 1024)),
}


@dataclass(frozen=True)
class TaskConfig:
    cpu_architecture: str  # a key of CPU_ARCHITECTURES
    cpu: int
    memory: int
    desired_count: int
    min_count: int
    max_count: int
    health_check_grace_seconds: int
    scale_cpu_target: float
    scale_requests_per_target: int
    enable_execute_command: bool
    rate_limits: dict[str, str]  # RATE_LIMIT_* -> value, sorted by name

    @property
    def platform(self) -> str:
        """The docker build platform matching the task's runtime platform."""
        return CPU_ARCHITECTURES[self.cpu_architecture]

    @classmethod
    def read(cls, r: ConfigReader) -> TaskConfig:
        cpu = r.integer("taskCpu", 256, choices=tuple(FARGATE_SIZES))
        memory = r.integer("taskMemory", 512)
        if memory not in FARGATE_SIZES[cpu]:
            allowed = ", ".join(str(m) for m in FARGATE_SIZES[cpu])
            r.fail(
                "taskMemory", f"a Fargate memory size for taskCpu={cpu}: one of {allowed}", memory
            )

        desired = r.integer("desiredCount", 1, minimum=1, maximum=50)
        min_count = r.integer("minCount", desired, minimum=1, maximum=50)
        max_count = r.integer("maxCount", max(desired, min_count), minimum=1, maximum=100)
        if not min_count <= desired <= max_count:
            r.fail(
                "desiredCount",
                f"minCount ({min_count}) <= desiredCount <= maxCount ({max_count})",
                desired,
            )
        return cls(
            cpu_architecture=r.choice("cpuArchitecture", "X86_64", tuple(CPU_ARCHITECTURES)),
            cpu=cpu,
            memory=memory,
            desired_count=desired,
            min_count=min_count,
            max_count=max_count,
            health_check_grace_seconds=r.integer(
                "healthCheckGraceSeconds", 60, minimum=0, maximum=2147483647
            ),
            scale_cpu_target=r.number("scaleCpuTarget", 60.0, minimum=1.0),
            scale_requests_per_target=r.integer("scaleRequestsPerTarget", 500, minimum=1),
            enable_execute_command=r.boolean("enableExecuteCommand", False),
            rate_limits=read_rate_limits(r),
        )


def read_rate_limits(r: ConfigReader) -> dict[str, str]:
    rate_limits = r.obj("rateLimits", "a map of RATE_LIMIT_* names to values") or {}
    if not isinstance(rate_limits, dict):
        r.fail("rateLimits", "a map of RATE_LIMIT_* names to values", rate_limits)
    unknown = sorted(set(rate_limits) - RATE_LIMIT_VARIABLES)
    if unknown:
        r.fail(
            "rateLimits",
            "keys among the service's settings: " + ", ".join(sorted(RATE_LIMIT_VARIABLES)),
            unknown,
        )
    invalid = {name: value for name, value in rate_limits.items() if not valid_rate_limit(value)}
    if invalid:
        r.fail("rateLimits", "limits such as '10/second' or '5/minute' (or booleans)", invalid)
    return {k: str(v) for k, v in sorted(rate_limits.items())}
