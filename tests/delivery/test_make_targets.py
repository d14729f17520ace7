"""`make deploy`, `make deploy-image` and `make smoke`: the commands they run (make -n) and the
validation that refuses a bad IMAGE before the pulumi CLI is ever called (a fake `pulumi` on
PATH records its arguments)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.makefile import phony_targets
from tests.support.processes import fake_cli

ROOT = Path(__file__).resolve().parents[2]
VENV = Path(sys.executable).parent.parent
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/service-prod@sha256:" + "cd" * 32


def make(*args: str, path: str | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    if path is not None:
        env["PATH"] = path
    return subprocess.run(
        ["make", "--no-print-directory", f"VENV={VENV}", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip


@pytest.fixture
def fake_pulumi(tmp_path):
    """A `pulumi` that appends its arguments to a log and succeeds; returns (PATH, log)."""
    bin_dir, log = tmp_path / "bin", tmp_path / "pulumi.log"
    fake_cli(bin_dir, "pulumi", log)
    return f"{bin_dir}:{os.environ['PATH']}", log


def test_targets_are_phony():
    assert {"deploy", "deploy-image", "smoke"} <= phony_targets()


def test_deploy_image_dry_run_shows_the_validation_then_the_pulumi_command():
    result = make("-n", "deploy-image", "STACK=prod", f"IMAGE={IMAGE}")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    check = next(i for i, x in enumerate(lines) if "-m infra.promote --check" in x)
    up = lines.index(f"pulumi up --stack prod --refresh --config service:imageRef={IMAGE}")
    assert check < up, "the image is validated before pulumi runs"


def test_deploy_image_runs_pulumi_with_a_valid_image(fake_pulumi):
    path, log = fake_pulumi
    result = make("deploy-image", "STACK=prod", f"IMAGE={IMAGE}", path=path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert log.read_text().splitlines() == [
        f"up --stack prod --refresh --config service:imageRef={IMAGE}"
    ]


@pytest.mark.parametrize(
    "image",
    [
        "",
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/service-prod:latest",
        "docker.io/library/nginx@sha256:" + "cd" * 32,
        IMAGE[:-1],
        IMAGE + " --yes",
    ],
)
def test_deploy_image_refuses_a_bad_image_before_calling_pulumi(fake_pulumi, image):
    path, log = fake_pulumi
    result = make("deploy-image", "STACK=prod", f"IMAGE={image}", path=path)
    assert result.returncode != 0
    assert "promote: image reference" in result.stderr and "is invalid" in result.stderr
    assert not log.exists(), f"pulumi was called: {log.read_text()}"


def test_deploy_selects_or_creates_the_stack_then_ups_with_refresh(fake_pulumi):
    dry = make("-n", "deploy", "STACK=staging")
    assert dry.returncode == 0, dry.stderr
    pulumi_lines = [x for x in dry.stdout.splitlines() if x.startswith("pulumi ")]
    assert pulumi_lines == [
        "pulumi stack select --create staging",
        "pulumi up --stack staging --refresh",
    ]
    path, log = fake_pulumi
    assert make("deploy", "STACK=staging", path=path).returncode == 0
    assert log.read_text().splitlines() == [
        "stack select --create staging",
        "up --stack staging --refresh",
    ]


def test_smoke_target_runs_the_smoke_module():
    result = make("-n", "smoke", "URL=https://api.example.com", "SMOKE_TIMEOUT=30")
    assert result.returncode == 0, result.stderr
    assert f"{VENV}/bin/python -m infra.smoke 'https://api.example.com' --timeout 30" in (
        result.stdout
    )
