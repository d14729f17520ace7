"""review-stack.yml, review-stack-janitor.yml and drift.yml: triggers, the fork guard,
least permissions, one concurrency group per stack, the label, and the tools they run.
(tests/delivery/test_workflows.py also runs its every-workflow checks over these files,
check-jsonschema included.)"""

from __future__ import annotations

import re

import yaml

from tests.delivery.test_workflows import WRITE, compact, load, pulumi_steps, steps

FORK_GUARD = "github.event.pull_request.head.repo.full_name==github.repository"


def runs(job: dict) -> str:
    return "\n".join(s.get("run", "") for s in steps(job))


def test_review_stack_runs_on_pull_request_label_push_and_close_never_pull_request_target():
    triggers = load("review-stack.yml")["on"]
    assert list(triggers) == ["pull_request"], "never pull_request_target: PR code gets AWS"
    assert set(triggers["pull_request"]["types"]) == {
        "labeled", "synchronize", "unlabeled", "closed"
    }  # fmt: skip


def test_every_review_job_is_limited_to_same_repository_prs():
    for name, job in load("review-stack.yml")["jobs"].items():
        assert compact(job["if"]).startswith(FORK_GUARD + "&&"), name


def test_review_deploy_needs_the_deploy_preview_label_and_skips_closed_prs():
    condition = compact(load("review-stack.yml")["jobs"]["deploy"]["if"])
    assert "contains(github.event.pull_request.labels.*.name,'deploy-preview')" in condition
    assert "github.event.action!='closed'" in condition
    assert "github.event.label.name=='deploy-preview'" in condition


def test_review_destroy_runs_on_close_or_when_the_label_is_removed():
    condition = compact(load("review-stack.yml")["jobs"]["destroy"]["if"])
    assert "github.event.action=='closed'" in condition
    assert "github.event.action=='unlabeled'&&github.event.label.name=='deploy-preview'" in (
        condition
    )


def test_review_jobs_share_one_never_cancelled_group_per_stack():
    jobs = load("review-stack.yml")["jobs"]
    group = {"group": "pulumi-pr-${{ github.event.pull_request.number }}",
             "cancel-in-progress": False}  # fmt: skip
    assert jobs["deploy"]["concurrency"] == group
    assert jobs["destroy"]["concurrency"] == group


def test_review_jobs_have_least_permissions():
    jobs = load("review-stack.yml")["jobs"]
    assert jobs["deploy"]["permissions"] == {
        "contents": "read", "id-token": WRITE, "pull-requests": WRITE
    }  # fmt: skip
    assert jobs["destroy"]["permissions"] == {"contents": "read", "id-token": WRITE}
    assert load("review-stack-janitor.yml")["jobs"]["janitor"]["permissions"] == {
        "contents": "read", "id-token": WRITE, "pull-requests": "read"
    }  # fmt: skip


def test_review_deploy_builds_this_commit_like_staging_and_comments_url_digest_and_cost():
    job = load("review-stack.yml")["jobs"]["deploy"]
    (up,) = pulumi_steps(job, "up")
    assert up["with"]["stack-name"] == "${{ steps.stack.outputs.name }}"
    assert "service:imageTag" in up["with"]["config-map"]
    assert "imageRef" not in up["with"]["config-map"], "built from source, as staging"
    uses = [s.get("uses", "") for s in steps(job)]
    assert any(u.startswith("docker/setup-buildx-action@") for u in uses)
    assert "python -m infra.cost --stack" in runs(job)
    script = next(s for s in steps(job) if s.get("uses", "").startswith("actions/github-script@"))
    code = script["with"]["script"]
    assert "<!-- review-stack -->" in code and "updateComment" in code
    for variable in ("SERVICE_URL", "IMAGE_REF", "COST"):
        assert variable in script["env"] and f"env.{variable}" in code, variable


def test_review_destroy_uses_the_safe_teardown_and_removes_the_stack_from_base_code():
    job = load("review-stack.yml")["jobs"]["destroy"]
    assert "python -m infra.teardown --stack" in runs(job) and "--remove-stack" in runs(job)
    checkout = steps(job)[0]
    assert checkout["with"]["ref"] == "${{ github.event.pull_request.base.sha }}"
    assert pulumi_steps(job, "any") == [], "no up or preview"


def test_janitor_is_scheduled_and_lets_the_pure_function_choose():
    wf = load("review-stack-janitor.yml")
    assert set(wf["on"]) == {"schedule", "workflow_dispatch"}
    job = wf["jobs"]["janitor"]
    assert "python -m infra.review janitor --inventory" in runs(job)
    assert "python -m infra.teardown --stack" in runs(job)
    env = next(s["env"] for s in steps(job) if "infra.review" in s.get("run", ""))
    assert env["REVIEW_STACK_MAX_DAYS"] == "${{ vars.REVIEW_STACK_MAX_DAYS }}"


def test_drift_runs_daily_and_on_demand_per_deployed_stack():
    wf = load("drift.yml")
    assert set(wf["on"]) == {"schedule", "workflow_dispatch"}
    job = wf["jobs"]["drift"]
    assert [e["stack"] for e in job["strategy"]["matrix"]["include"]] == ["dev", "staging", "prod"]
    assert job["strategy"]["fail-fast"] is False
    assert job["concurrency"]["group"] == "drift-${{ matrix.stack }}"


def test_drift_permissions_are_issues_contents_read_and_oidc_only():
    wf = load("drift.yml")
    assert wf["permissions"] == {}
    assert wf["jobs"]["drift"]["permissions"] == {
        "contents": "read", "id-token": WRITE, "issues": WRITE
    }  # fmt: skip


def test_drift_uses_read_only_roles_never_a_deploy_role():
    text = yaml.safe_dump(load("drift.yml"))
    assert "DEPLOY" not in text
    roles = {e["role"] for e in load("drift.yml")["jobs"]["drift"]["strategy"]["matrix"]["include"]}
    assert roles == {"AWS_PREVIEW_ROLE_ARN", "AWS_PREVIEW_PROD_ROLE_ARN"}


def test_drift_previews_with_refresh_and_expect_no_changes_then_reports():
    job = load("drift.yml")["jobs"]["drift"]
    text = runs(job)
    assert re.search(
        r"pulumi preview --stack \"\$STACK\" --refresh --expect-no-changes --json", text
    )
    assert "python -m infra.drift report" in text
    assert pulumi_steps(job, "any") == [], "the CLI itself, for its --json digest"


def test_drift_issue_is_found_by_label_and_title_then_updated_created_or_closed():
    job = load("drift.yml")["jobs"]["drift"]
    text = runs(job)
    assert 'title="Drift in $STACK"' in text
    assert "gh issue list" in text and "--label drift" in text and "select(.title ==" in text
    assert text.index("gh issue edit") < text.index("gh issue create"), "update before create"
    assert "gh issue close" in text and "--comment" in text
