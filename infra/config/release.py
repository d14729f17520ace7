"""What a deployment runs and how it rolls out: the image (built from this commit, or an ECR
digest promoted or rolled back to) and the strategy (rolling, blue/green, canary) with its bakes."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from infra import catalog
from infra.config.reader import REPO_ROOT, ConfigReader

# service:deploymentStrategy -> ECS's deploymentConfiguration.strategy. blue_green and canary shift
# the ALB's production listener rule between two target groups (infra/components/deployment.py).
DEPLOYMENT_STRATEGIES = {"rolling": "ROLLING", "blue_green": "BLUE_GREEN", "canary": "CANARY"}
# The release alarms need up to three one-minute datapoints plus CloudWatch's publication delay:
# a shorter canary or final bake would move on before they could fire.
MIN_BAKE_MINUTES = 5
MAX_BAKE_MINUTES = 1440  # ECS's upper bound for both bake times
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
# An image already in ECR, by digest: what promotion and rollback deploy (nothing is built).
_IMAGE_REF = catalog.ECR_IMAGE_REF


@dataclass(frozen=True)
class ReleaseConfig:
    image_tag: str
    image_ref: str | None  # set: run this ECR digest, build nothing (promotion, rollback)
    deployment_strategy: str  # a key of DEPLOYMENT_STRATEGIES
    bake_time_minutes: int  # blue_green, canary: both revisions run after the full shift
    canary_percent: float  # canary: the first share of production traffic
    canary_bake_time_minutes: int  # canary: how long that share is watched

    @property
    def image_repository(self) -> dict[str, str] | None:
        """``image_ref`` split into registry, account, region, repository and digest."""
        if self.image_ref is None:
            return None
        match = _IMAGE_REF.match(self.image_ref)
        assert match is not None  # validated by the reader
        return match.groupdict()

    @classmethod
    def read(cls, r: ConfigReader, region: str) -> ReleaseConfig:
        return cls(
            image_tag=_image_tag(r),
            image_ref=_image_ref(r, region),
            deployment_strategy=r.choice(
                "deploymentStrategy", "rolling", tuple(DEPLOYMENT_STRATEGIES)
            ),
            bake_time_minutes=r.integer(
                "bakeTimeMinutes", 5, minimum=MIN_BAKE_MINUTES, maximum=MAX_BAKE_MINUTES
            ),
            canary_percent=_canary_percent(r),
            canary_bake_time_minutes=r.integer(
                "canaryBakeTimeMinutes", 5, minimum=MIN_BAKE_MINUTES, maximum=MAX_BAKE_MINUTES
            ),
        )


def _image_tag(r: ConfigReader) -> str:
    tag = r.string("imageTag", pattern=_TAG, expected="a docker tag")
    if tag:
        return tag
    commit = git_commit()
    if commit is None:
        r.fail("imageTag", "a docker tag, because `git rev-parse HEAD` found no commit")
    return commit


def _image_ref(r: ConfigReader, region: str) -> str | None:
    ref = r.string(
        "imageRef",
        pattern=_IMAGE_REF,
        expected="an ECR image by digest: <account>.dkr.ecr.<region>.amazonaws.com/<repo>"
        "@sha256:<64 hex> (empty: build from source)",
    )
    if ref and _IMAGE_REF.match(ref)["region"] != region:
        r.fail("imageRef", f"an image in the stack's region {region}", ref)
    return ref


def _canary_percent(r: ConfigReader) -> float:
    """ECS takes 0.1 to 100 percent in steps of 0.1 (CanaryConfiguration.canaryPercent)."""
    expected = "a percentage from 0.1 to 100 in steps of 0.1"
    value = r.raw("canaryPercent")
    if value is None:
        return 10.0
    try:
        tenths = float(value) * 10
    except ValueError:
        r.fail("canaryPercent", expected, value)
    if not 1 <= tenths <= 1000 or abs(tenths - round(tenths)) > 1e-6:  # NaN fails too
        r.fail("canaryPercent", expected, value)
    return round(tenths) / 10


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
