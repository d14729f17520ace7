"""The GitHub workflows: schema-valid, pinned, least privilege, and fork code never gets a write
token, secrets or cloud credentials."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
NAMES = ["ci.yml", "preview.yml", "preview-comment.yml", "deploy.yml", "teardown-staging.yml"]
SECRETS_OR_VARS = re.compile(r"\$\{\{[^}]*\b(secrets|vars)\.")
WRITE = "write"


def load(name: str) -> dict:
    # PyYAML reads the key `on` as True (YAML 1.1); normalise it back.
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    if True in data:
        data["on"] = data.pop(True)
    return data


def check_jsonschema() -> str:
    found = Path(sys.executable).with_name("check-jsonschema")
    if found.exists():
        return str(found)
    exe = shutil.which("check-jsonschema")
    if exe is None:
        pytest.fail("check-jsonschema is not installed (it is in the [dev] extra)")
    return exe


def steps(job: dict) -> list[dict]:
    return job.get("steps", [])


def test_all_workflows_exist():
    missing = [n for n in NAMES if not (WORKFLOWS / n).is_file()]
    assert missing == [], f"missing workflows: {missing}"


def test_workflows_validate_against_the_github_workflow_schema():
    result = subprocess.run(
        [check_jsonschema(), "--builtin-schema", "vendor.github-workflows"]
        + [str(WORKFLOWS / n) for n in NAMES],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", NAMES)
def test_every_action_is_pinned_to_a_version_or_sha(name):
    uses = [s["uses"] for job in load(name)["jobs"].values() for s in steps(job) if "uses" in s]
    unpinned = [u for u in uses if not re.search(r"@(v\d+(\.\d+)*|[0-9a-f]{40})$", u)]
    assert unpinned == [], f"{name}: actions not pinned to a version tag or SHA: {unpinned}"


@pytest.mark.parametrize("name", NAMES)
def test_workflow_defaults_to_no_permissions_and_each_job_declares_its_own(name):
    wf = load(name)
    assert wf.get("permissions") == {}, f"{name}: top-level permissions should be {{}}"
    undeclared = [j for j, job in wf["jobs"].items() if "permissions" not in job]
    assert undeclared == [], f"{name}: jobs without explicit permissions: {undeclared}"


@pytest.mark.parametrize("name", NAMES)
def test_checkouts_do_not_persist_the_token(name):
    wf = load(name)
    bad = [
        j
        for j, job in wf["jobs"].items()
        for s in steps(job)
        if s.get("uses", "").startswith("actions/checkout@")
        and (s.get("with") or {}).get("persist-credentials") is not False
    ]
    assert bad == [], f"{name}: checkout without persist-credentials: false in jobs {bad}"


# --- preview: fork safety ------------------------------------------------------------------


def test_preview_runs_on_pull_request_never_pull_request_target():
    triggers = load("preview.yml")["on"]
    assert "pull_request" in triggers
    assert "pull_request_target" not in triggers
    assert "workflow_run" not in triggers


def test_preview_job_for_every_pr_has_read_only_contents_and_no_secrets():
    wf = load("preview.yml")
    jobs = {j: job for j, job in wf["jobs"].items() if "if" not in job}
    assert jobs, "expected an unconditional job (forks included)"
    for name, job in jobs.items():
        assert job["permissions"] == {"contents": "read"}, (name, job["permissions"])
        text = yaml.safe_dump(job)
        assert not SECRETS_OR_VARS.search(text), f"{name} references secrets or vars"
        assert "aws-actions/configure-aws-credentials" not in text
        assert "id-token" not in text


def test_preview_job_for_every_pr_uploads_the_diff_as_an_artifact():
    job = load("preview.yml")["jobs"]["plan-diff"]
    uploads = [s for s in steps(job) if s.get("uses", "").startswith("actions/upload-artifact@")]
    assert uploads and uploads[0]["with"]["name"] == "plan-diff"
    run = "\n".join(s.get("run", "") for s in steps(job))
    assert "infra.plan" in run and "--json" in run and "infra.plandiff" in run


def test_preview_jobs_with_privileges_are_limited_to_same_repository_prs():
    wf = load("preview.yml")
    for name, job in wf["jobs"].items():
        perms = job.get("permissions", {})
        text = yaml.safe_dump(job)
        privileged = (
            any(v == WRITE for v in perms.values())
            or SECRETS_OR_VARS.search(text)
            or "configure-aws-credentials" in text
        )
        if privileged:
            assert (
                job.get("if", "").replace(" ", "")
                == "github.event.pull_request.head.repo.full_name==github.repository"
            ), f"{name} has privileges but is not limited to same-repository PRs"


def test_same_repo_preview_uses_oidc_and_pulumi_preview_with_policy_per_stack():
    job = load("preview.yml")["jobs"]["pulumi-preview"]
    assert job["permissions"]["id-token"] == WRITE
    assert job["strategy"]["matrix"]["stack"] == ["staging", "prod"]
    aws = next(s for s in steps(job) if s.get("uses", "").startswith("aws-actions/"))
    assert aws["with"]["role-to-assume"] == "${{ vars.AWS_ROLE_ARN }}"
    assert not any(k in aws["with"] for k in ("aws-access-key-id", "aws-secret-access-key"))
    pulumi = next(s for s in steps(job) if s.get("uses", "").startswith("pulumi/actions@"))
    assert pulumi["with"]["command"] == "preview"
    assert pulumi["with"]["comment-on-pr"] is True
    assert pulumi["with"]["edit-pr-comment"] is True
    assert pulumi["with"]["policyPacks"] == "policy"
    assert pulumi["with"]["stack-name"] == "${{ matrix.stack }}"


def test_commenter_runs_on_workflow_run_and_never_executes_pr_code():
    wf = load("preview-comment.yml")
    assert list(wf["on"]) == ["workflow_run"]
    assert wf["on"]["workflow_run"]["workflows"] == ["preview"]
    (job,) = wf["jobs"].values()
    assert job["permissions"] == {"actions": "read", "pull-requests": "write"}
    uses = [s.get("uses", "") for s in steps(job)]
    assert not any(u.startswith("actions/checkout@") for u in uses), "must not check out PR code"
    assert not any("run" in s for s in steps(job)), "no shell steps over artifact content"
    script = next(s for s in steps(job) if s.get("uses", "").startswith("actions/github-script@"))
    code = script["with"]["script"]
    assert re.search(r"\^\[1-9\]\[0-9\]", code), "the PR number must be validated as an integer"
    assert "head.sha" in code and "RUN_HEAD_SHA" in code, "PR head must match the previewed run"
    assert "eval(" not in code and "require(path.join" not in code


# --- deploy / teardown / ci ------------------------------------------------------------------


def test_deploy_staging_on_main_and_prod_in_the_production_environment():
    wf = load("deploy.yml")
    assert wf["on"]["push"]["branches"] == ["main"]
    assert wf["on"]["push"]["tags"] == ["v*"]
    assert "workflow_dispatch" in wf["on"]
    staging, prod = wf["jobs"]["staging"], wf["jobs"]["prod"]
    assert prod["environment"] == "production"
    assert "refs/heads/main" in staging["if"]
    assert "refs/tags/v" in prod["if"]
    for job in (staging, prod):
        assert job["permissions"] == {"contents": "read", "id-token": WRITE}
        uses = [s.get("uses", "") for s in steps(job)]
        assert any(u.startswith("docker/setup-buildx-action@") for u in uses)
        up = next(s for s in steps(job) if s.get("uses", "").startswith("pulumi/actions@"))
        assert up["with"]["command"] == "up"


def test_deploy_has_one_never_cancelled_concurrency_group_per_stack():
    jobs = load("deploy.yml")["jobs"]
    groups = {name: job["concurrency"] for name, job in jobs.items()}
    assert groups["staging"] == {"group": "pulumi-staging", "cancel-in-progress": False}
    assert groups["prod"] == {"group": "pulumi-prod", "cancel-in-progress": False}
    teardown = load("teardown-staging.yml")["jobs"]["teardown"]["concurrency"]
    assert teardown == groups["staging"], "teardown must queue behind a staging deploy"


def test_teardown_needs_typed_confirmation_and_runs_the_safe_tool():
    wf = load("teardown-staging.yml")
    confirm = wf["on"]["workflow_dispatch"]["inputs"]["confirm"]
    assert confirm["required"] is True
    assert "schedule" in wf["on"]
    job = wf["jobs"]["teardown"]
    check = steps(job)[0]
    assert check["env"]["CONFIRM"] == "${{ inputs.confirm }}"
    assert '"$CONFIRM" != "staging"' in check["run"]
    assert "${{" not in check["run"], "inputs must reach the shell through env, not inline"
    runs = "\n".join(s.get("run", "") for s in steps(job))
    assert "python -m infra.teardown" in runs and "--stack staging" in runs


def test_ci_runs_make_test_with_postgres_and_redis_services():
    job = load("ci.yml")["jobs"]["test"]
    services = job["services"]
    assert services["postgres"]["image"] == "postgres:15"
    assert services["redis"]["image"] == "redis:7"
    assert "5432:5432" in services["postgres"]["ports"]
    assert "6379:6379" in services["redis"]["ports"]
    assert "--health-cmd" in services["postgres"]["options"]
    assert "--health-cmd" in services["redis"]["options"]
    runs = "\n".join(s.get("run", "") for s in steps(job))
    assert ".ci/run" in runs or "make test" in runs
