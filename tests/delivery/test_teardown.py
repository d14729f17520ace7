"""infra.teardown refuses anything not disposable and works without the pulumi CLI for refusals
and dry runs."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from infra import teardown

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def project(tmp_path):
    """A project directory with Pulumi.yaml and three stack config files."""
    (tmp_path / "Pulumi.yaml").write_text("name: service\nruntime: python\n")
    (tmp_path / "Pulumi.staging.yaml").write_text(
        'config:\n  aws:region: us-east-1\n  service:ephemeral: "true"\n'
    )
    (tmp_path / "Pulumi.dev.yaml").write_text("config:\n  aws:region: us-east-1\n")
    (tmp_path / "Pulumi.prod.yaml").write_text(
        'config:\n  aws:region: us-east-1\n  service:ephemeral: "true"\n'  # even if mislabelled
    )
    (tmp_path / "Pulumi.qa.yaml").write_text('config:\n  service:ephemeral: "false"\n')
    return tmp_path


def run(*args, env_path: str | None = None):
    env = dict(os.environ)
    if env_path is not None:
        env["PATH"] = env_path
    return subprocess.run(
        [sys.executable, "-m", "infra.teardown", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip


def test_prod_is_refused_even_when_marked_ephemeral(project):
    result = run("--stack", "prod", "--root", str(project), "--dry-run")
    assert result.returncode == 2
    assert "'prod'" in result.stderr and "production" in result.stderr
    assert result.stdout == ""


def test_org_qualified_prod_is_refused(project):
    with pytest.raises(teardown.Refusal, match="production"):
        teardown.check_disposable("acme/service/prod", project)


def test_stack_without_the_ephemeral_flag_is_refused(project):
    result = run("--stack", "dev", "--root", str(project))
    assert result.returncode == 2
    assert "'dev'" in result.stderr and "service:ephemeral" in result.stderr


def test_stack_with_the_flag_set_false_is_refused(project):
    result = run("--stack", "qa", "--root", str(project))
    assert result.returncode == 2
    assert "'qa'" in result.stderr and "not true" in result.stderr


def test_stack_without_a_config_file_is_refused(project):
    result = run("--stack", "preview-42", "--root", str(project))
    assert result.returncode == 2
    assert "Pulumi.preview-42.yaml is missing" in result.stderr


def test_flag_of_another_project_does_not_count(project):
    (project / "Pulumi.other.yaml").write_text('config:\n  otherproject:ephemeral: "true"\n')
    with pytest.raises(teardown.Refusal, match="service:ephemeral"):
        teardown.check_disposable("other", project)


def test_dry_run_prints_destroy_only_by_default(project):
    result = run("--stack", "staging", "--root", str(project), "--dry-run", env_path="/nonexistent")
    assert result.returncode == 0, result.stderr
    assert "pulumi destroy --yes --skip-preview --stack staging" in result.stdout
    assert "stack rm" not in result.stdout


def test_dry_run_with_remove_stack_prints_both_commands_in_order(project):
    result = run("--stack", "staging", "--root", str(project), "--dry-run", "--remove-stack")
    lines = [x for x in result.stdout.splitlines() if x.startswith("pulumi")]
    assert lines == [
        "pulumi destroy --yes --skip-preview --stack staging",
        "pulumi stack rm --yes --stack staging",
    ]


def test_missing_cli_is_a_clear_error_when_not_a_dry_run(project):
    result = run("--stack", "staging", "--root", str(project), env_path="/nonexistent")
    assert result.returncode == teardown.EXIT_NO_CLI
    assert "pulumi CLI is not on PATH" in result.stderr
    assert "Traceback" not in result.stderr


def test_runs_destroy_then_stack_rm_with_a_fake_cli(project, tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls.log"
    fake = bin_dir / "pulumi"
    fake.write_text(f'#!/bin/sh\necho "$@" >> {log}\n')
    fake.chmod(0o755)
    result = run("--stack", "staging", "--root", str(project), "--remove-stack",
                 env_path=f"{bin_dir}:/usr/bin:/bin")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert log.read_text().splitlines() == [
        "destroy --yes --skip-preview --stack staging",
        "stack rm --yes --stack staging",
    ]


def test_a_failed_destroy_stops_before_stack_rm(project, tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls.log"
    fake = bin_dir / "pulumi"
    fake.write_text(f'#!/bin/sh\necho "$@" >> {log}\nexit 7\n')
    fake.chmod(0o755)
    result = run("--stack", "staging", "--root", str(project), "--remove-stack",
                 env_path=f"{bin_dir}:/usr/bin:/bin")  # fmt: skip
    assert result.returncode == 7
    assert len(log.read_text().splitlines()) == 1


def test_repository_stacks_staging_is_disposable_and_prod_is_not():
    if not (ROOT / "Pulumi.yaml").exists():
        pytest.skip("Pulumi.yaml not written yet")
    teardown.check_disposable("staging", ROOT)
    with pytest.raises(teardown.Refusal):
        teardown.check_disposable("prod", ROOT)
