"""The GitHub workflows: schema-valid, pinned, least privilege, fork code never gets a write
token, secrets or cloud credentials; deploys build once after green CI on main, preview prod for
real before an approval, promote the same digest into prod, and smoke-check every update."""

import importlib.metadata
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
NAMES = [
    "ci.yml",
    "preview.yml",
    "preview-comment.yml",
    "deploy.yml",
    "teardown-staging.yml",
    "review-stack.yml",
    "review-stack-janitor.yml",
    "drift.yml",
]
PR_WORKFLOWS = ["preview.yml", "preview-comment.yml"]
SECRETS_OR_VARS = re.compile(r"\$\{\{[^}]*\b(secrets|vars)\.")
PROD_ROLE = re.compile(r"\b(AWS_\w*PROD\w*_ROLE_ARN)\b")
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


def pulumi_steps(job: dict, command: str | None = "any") -> list[dict]:
    """pulumi/actions steps; command="any": those that run a command, None: all of them."""
    found = [s for s in steps(job) if s.get("uses", "").startswith("pulumi/actions@")]
    if command is None:
        return found
    found = [s for s in found if (s.get("with") or {}).get("command")]
    if command == "any":
        return found
    return [s for s in found if s["with"]["command"] == command]


def up_steps(job: dict) -> list[dict]:
    return [s for s in pulumi_steps(job) if s["with"]["command"] in ("up", "update")]


def config_map(step: dict) -> dict[str, str]:
    """The step's config-map, each key -> its value (GitHub expressions left as written)."""
    data = yaml.safe_load(step["with"].get("config-map", "")) or {}
    return {key: str(value["value"]) for key, value in data.items()}


def compact(expression: str) -> str:
    return re.sub(r"\s+", "", expression)


def sdk_pulumi_version() -> str:
    """The pulumi SDK pin: `pulumi==X` in requirements.lock, else the installed SDK."""
    lock = ROOT / "requirements.lock"
    if lock.exists():
        match = re.search(r"^pulumi==([^\s;\\]+)", lock.read_text(), re.M)
        assert match, "requirements.lock has no pulumi== pin"
        return match.group(1)
    return importlib.metadata.version("pulumi")


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


def test_plan_diff_prices_base_and_head_offline_and_comments_the_difference():
    job = load("preview.yml")["jobs"]["plan-diff"]
    run = "\n".join(s.get("run", "") for s in steps(job))
    # head's cost tool prices both plan files the job already made: no base code runs for it
    flat = compact(run).replace("\\", "")
    for side in ("base", "head"):
        assert f'-minfra.cost--stack"$stack"--plan"../out/{side}-$stack.json"--json' in flat, side
    assert "-m infra.cost diff" in run and ">> out/comment.md" in run
    assert "refresh-prices" not in run, "the Price List API needs credentials: never in a PR"
    assert job["permissions"] == {"contents": "read"}, "pricing stays read-only and fork-safe"
    cost_failure = run.index("The cost estimate failed")
    assert "status=1" in run[run.rindex("else", 0, cost_failure) : cost_failure]


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


def test_same_repo_preview_uses_oidc_and_pulumi_preview_with_policy_for_dev_and_staging():
    job = load("preview.yml")["jobs"]["pulumi-preview"]
    assert job["permissions"]["id-token"] == WRITE
    assert job["strategy"]["matrix"]["stack"] == ["dev", "staging"], "never prod from a PR"
    aws = next(s for s in steps(job) if s.get("uses", "").startswith("aws-actions/"))
    assert aws["with"]["role-to-assume"] == "${{ vars.AWS_PREVIEW_ROLE_ARN }}"
    assert not any(k in aws["with"] for k in ("aws-access-key-id", "aws-secret-access-key"))
    uses = [s.get("uses", "") for s in steps(job)]
    assert any(u.startswith("docker/setup-buildx-action@") for u in uses)
    pulumi = next(s for s in steps(job) if s.get("uses", "").startswith("pulumi/actions@"))
    assert pulumi["with"]["command"] == "preview"
    assert pulumi["with"]["upsert"] is False, "a PR never creates a stack"
    assert pulumi["with"]["comment-on-pr"] is True
    assert pulumi["with"]["edit-pr-comment"] is True
    assert pulumi["with"]["policyPacks"] == "policy"
    assert pulumi["with"]["stack-name"] == "${{ matrix.stack }}"


def test_the_offline_plan_diff_still_covers_every_stack_including_prod():
    job = load("preview.yml")["jobs"]["plan-diff"]
    assert job["env"]["STACKS"].split() == ["dev", "staging", "prod"]


@pytest.mark.parametrize("name", PR_WORKFLOWS)
def test_pr_workflows_reference_no_prod_role_and_never_touch_prod_for_real(name):
    text = (WORKFLOWS / name).read_text()
    assert not PROD_ROLE.search(text), f"{name} mentions a prod role variable"
    for job_name, job in load(name)["jobs"].items():
        for step in pulumi_steps(job):
            assert "prod" not in str(step["with"].get("stack-name", "")), (name, job_name)
        assert "prod" not in (job.get("strategy", {}).get("matrix", {}).get("stack") or [])


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


# --- deploy: build once after CI, staging, prod preview, approval, promotion by digest -------


def test_deploy_triggers_on_green_ci_of_main_and_manual_dispatch_only():
    triggers = load("deploy.yml")["on"]
    assert set(triggers) == {"workflow_run", "workflow_dispatch"}, "no push or tag trigger"
    assert triggers["workflow_run"] == {
        "workflows": ["ci"], "types": ["completed"], "branches": ["main"]
    }  # fmt: skip
    staging = compact(load("deploy.yml")["jobs"]["staging"]["if"])
    assert "github.event.workflow_run.conclusion=='success'" in staging
    assert "github.event.workflow_run.event=='push'" in staging, "a PR's green CI never deploys"


def test_dispatch_inputs_are_a_stack_choice_and_an_optional_image():
    inputs = load("deploy.yml")["on"]["workflow_dispatch"]["inputs"]
    assert inputs["stack"]["type"] == "choice"
    assert inputs["stack"]["options"] == ["staging", "prod"]
    assert inputs["image"]["type"] == "string"
    assert inputs["image"].get("required") is False


def test_deploy_checks_out_the_commit_ci_tested():
    for job_name, job in load("deploy.yml")["jobs"].items():
        for step in steps(job):
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step["with"]["ref"].startswith("${{ github.event.workflow_run.head_sha"), (
                    job_name
                )


def test_prod_needs_prod_preview_which_needs_staging_or_a_prod_dispatch():
    jobs = load("deploy.yml")["jobs"]
    assert set(jobs) == {"staging", "prod-preview", "prod"}
    assert jobs["prod-preview"]["needs"] == "staging"
    assert jobs["prod"]["needs"] == "prod-preview"
    preview_if = compact(jobs["prod-preview"]["if"])
    assert "needs.staging.result=='success'" in preview_if
    assert "github.event_name=='workflow_dispatch'&&inputs.stack=='prod'" in preview_if
    assert "needs.prod-preview.result=='success'" in compact(jobs["prod"]["if"])
    staging_if = compact(jobs["staging"]["if"])
    assert "inputs.stack=='staging'" in staging_if, "a prod dispatch skips staging"


def test_jobs_run_in_their_environments_with_never_cancelled_groups():
    jobs = load("deploy.yml")["jobs"]
    assert {n: j["environment"] for n, j in jobs.items()} == {
        "staging": "staging", "prod-preview": "production-preview", "prod": "production"
    }  # fmt: skip
    assert jobs["staging"]["concurrency"] == {
        "group": "pulumi-staging",
        "cancel-in-progress": False,
    }
    assert jobs["prod"]["concurrency"] == {"group": "pulumi-prod", "cancel-in-progress": False}
    teardown = load("teardown-staging.yml")["jobs"]["teardown"]["concurrency"]
    assert teardown == jobs["staging"]["concurrency"], "teardown must queue behind a deploy"
    for name, job in jobs.items():
        assert job["permissions"] == {"contents": "read", "id-token": WRITE}, name


def test_only_production_environments_can_reach_prod_credentials():
    allowed = {
        "AWS_PREVIEW_PROD_ROLE_ARN": "production-preview",
        "AWS_DEPLOY_PROD_ROLE_ARN": "production",
    }
    seen = set()
    for name in NAMES:
        for job_name, job in load(name)["jobs"].items():
            for var in PROD_ROLE.findall(yaml.safe_dump(job)):
                seen.add(var)
                include = job.get("strategy", {}).get("matrix", {}).get("include")
                if include and job.get("environment") == "${{ matrix.environment }}":
                    # a matrix names the role per entry: each entry's own environment counts
                    for entry in include:
                        if entry.get("role") == var:
                            assert entry["environment"] == allowed[var], (name, job_name, entry)
                    continue
                assert job.get("environment") == allowed[var], (name, job_name, var)
            for step in pulumi_steps(job):
                if step["with"].get("stack-name") == "prod":
                    assert job.get("environment") in allowed.values(), (name, job_name)
    assert seen == set(allowed), "both prod roles are used, each in its own environment"


def test_each_job_assumes_its_own_role():
    roles = {}
    for name in NAMES:
        for job_name, job in load(name)["jobs"].items():
            for step in steps(job):
                if step.get("uses", "").startswith("aws-actions/configure-aws-credentials@"):
                    roles[f"{name}:{job_name}"] = step["with"]["role-to-assume"]
    assert roles == {
        "preview.yml:pulumi-preview": "${{ vars.AWS_PREVIEW_ROLE_ARN }}",
        "deploy.yml:staging": "${{ vars.AWS_DEPLOY_STAGING_ROLE_ARN }}",
        "deploy.yml:prod-preview": "${{ vars.AWS_PREVIEW_PROD_ROLE_ARN }}",
        "deploy.yml:prod": "${{ vars.AWS_DEPLOY_PROD_ROLE_ARN }}",
        "teardown-staging.yml:teardown": "${{ vars.AWS_DEPLOY_STAGING_ROLE_ARN }}",
        "review-stack.yml:deploy": "${{ vars.AWS_DEPLOY_REVIEW_ROLE_ARN }}",
        "review-stack.yml:destroy": "${{ vars.AWS_DEPLOY_REVIEW_ROLE_ARN }}",
        "review-stack-janitor.yml:janitor": "${{ vars.AWS_DEPLOY_REVIEW_ROLE_ARN }}",
        "drift.yml:drift": "${{ vars[matrix.role] }}",
    }
    for name in NAMES:
        assert "vars.AWS_ROLE_ARN" not in (WORKFLOWS / name).read_text(), name


def test_staging_builds_this_commit_on_push_and_never_on_dispatch():
    job = load("deploy.yml")["jobs"]["staging"]
    uses = [s.get("uses", "") for s in steps(job)]
    assert any(u.startswith("docker/setup-buildx-action@") for u in uses)
    image = next(s for s in steps(job) if s.get("id") == "image")
    assert image["if"] == "github.event_name == 'workflow_dispatch'"
    assert "infra.promote --resolve" in image["run"], "dispatch: an image or the current one"
    assert image["env"]["REQUESTED"] == "${{ inputs.image }}"
    up = up_steps(job)[0]
    config = config_map(up)
    assert config["service:imageTag"] == "${{ github.event.workflow_run.head_sha || github.sha }}"
    assert config["service:imageRef"] == "${{ steps.image.outputs.ref }}", "empty only on push"
    assert job["outputs"] == {
        "image_ref": "${{ steps.up.outputs.imageRef }}",
        "service_url": "${{ steps.up.outputs.serviceUrl }}",
    }


def test_staging_can_build_every_cpu_architecture_the_config_accepts():
    """service:cpuArchitecture ARM64 is built, not refused: QEMU before buildx, and buildx
    offers every platform infra/config/ maps an architecture to."""
    from infra.config import CPU_ARCHITECTURES

    job = load("deploy.yml")["jobs"]["staging"]
    uses = [s.get("uses", "") for s in steps(job)]
    qemu = next(i for i, u in enumerate(uses) if u.startswith("docker/setup-qemu-action@"))
    buildx = next(i for i, u in enumerate(uses) if u.startswith("docker/setup-buildx-action@"))
    assert qemu < buildx, "buildx picks up QEMU's emulators when it starts"
    assert "arm64" in steps(job)[qemu]["with"]["platforms"].split(",")
    offered = set(steps(job)[buildx]["with"]["platforms"].split(","))
    assert set(CPU_ARCHITECTURES.values()) <= offered, offered


def test_prod_preview_previews_prod_for_real_and_summarises_the_digest():
    job = load("deploy.yml")["jobs"]["prod-preview"]
    image = next(s for s in steps(job) if s.get("id") == "image")
    assert "needs.staging.outputs.image_ref" in image["env"]["REQUESTED"]
    assert "inputs.image" in image["env"]["REQUESTED"]
    assert "infra.promote --resolve" in image["run"]
    plan = next(s for s in steps(job) if "--dry-run" in s.get("run", ""))
    assert "infra.promote --source" in plan["run"] and "--dest-stack prod" in plan["run"]
    assert '--summary "$GITHUB_STEP_SUMMARY"' in plan["run"], "the digest goes to the summary"
    (preview,) = pulumi_steps(job, "preview")
    w = preview["with"]
    assert (w["stack-name"], w["diff"], w["refresh"], w["upsert"]) == ("prod", True, True, False)
    assert w["comment-on-summary"] is True, "the preview output is in the run summary"
    assert w["policyPacks"] == "policy"
    assert config_map(preview)["service:imageRef"] == "${{ steps.image.outputs.ref }}"
    assert up_steps(job) == [], "prod-preview changes nothing"
    assert job["outputs"] == {"image_ref": "${{ steps.image.outputs.ref }}"}


def test_prod_promotes_the_previewed_digest_then_deploys_it_and_never_builds():
    job = load("deploy.yml")["jobs"]["prod"]
    names = [s.get("id") or s.get("uses", "") for s in steps(job)]
    promote = next(s for s in steps(job) if s.get("id") == "promote")
    assert promote["env"]["SOURCE"] == "${{ needs.prod-preview.outputs.image_ref }}"
    assert "infra.promote --source" in promote["run"] and "--dest-stack prod" in promote["run"]
    assert "--dry-run" not in promote["run"]
    assert names.index("promote") < names.index("up")
    first, again = up_steps(job)
    assert config_map(first)["service:imageRef"] == "${{ steps.promote.outputs.ref }}"
    assert config_map(again)["service:imageRef"] == "${{ steps.promote-again.outputs.ref }}"
    for up in (first, again):
        assert set(config_map(up)) == {"service:imageRef"}, "prod always runs a given image"
    # first deploy: deploy with staging's reference, promote into the new repo, deploy again
    second_promote = next(s for s in steps(job) if s.get("id") == "promote-again")
    condition = compact(second_promote["if"])
    assert "steps.promote.outputs.first_deploy=='true'" in condition
    # prod must end on its own copy even when the first smoke check failed (DNS not there yet)
    assert "!cancelled()" in condition and "steps.up.outcome=='success'" in condition
    assert "steps.promote-again.outcome=='success'" in compact(again["if"])
    assert second_promote["env"]["DEST_REPO"] == "${{ steps.up.outputs.repositoryUrl }}"
    assert names.index("up") < names.index("promote-again") < names.index("up-again")
    uses = [s.get("uses", "") for s in steps(job)]
    assert any(u.startswith("aws-actions/amazon-ecr-login@") for u in uses)


def test_config_maps_only_take_validated_step_outputs_never_raw_inputs():
    for name in NAMES:
        for job in load(name)["jobs"].values():
            for step in pulumi_steps(job):
                text = step["with"].get("config-map", "")
                assert "inputs." not in text and "github.event.inputs" not in text, name
                for value in re.findall(r"\$\{\{(.*?)\}\}", text):
                    assert value.strip().startswith(("steps.", "github.event.workflow_run")), value


# --- every workflow --------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_every_pulumi_step_pins_the_cli_to_the_sdk_version(name):
    pin = sdk_pulumi_version()
    for job_name, job in load(name)["jobs"].items():
        for step in pulumi_steps(job, None):
            assert str(step.get("with", {}).get("pulumi-version")) == pin, (name, job_name, pin)


@pytest.mark.parametrize("name", NAMES)
def test_every_up_upserts_refreshes_and_enforces_the_policy_pack(name):
    for job_name, job in load(name)["jobs"].items():
        for step in up_steps(job):
            w = step["with"]
            assert w.get("upsert") is True, (name, job_name, "upsert")
            assert w.get("refresh") is True, (name, job_name, "refresh")
            assert w.get("policyPacks") == "policy", (name, job_name)


@pytest.mark.parametrize("name", NAMES)
def test_every_up_is_followed_by_a_smoke_check_of_its_service_url(name):
    for job_name, job in load(name)["jobs"].items():
        job_steps = steps(job)
        for i, step in enumerate(job_steps):
            if step not in up_steps(job):
                continue
            later = job_steps[i + 1 :]
            nxt = next((j for j, s in enumerate(later) if s in up_steps(job)), len(later))
            smokes = [s for s in later[:nxt] if "infra.smoke" in s.get("run", "")]
            assert smokes, f"{name}:{job_name}: no smoke check after {step.get('id')}"
            smoke = smokes[0]
            url = "${{ steps." + step["id"] + ".outputs.serviceUrl }}"
            assert smoke["env"]["SERVICE_URL"] == url, (job_name, step["id"])
            if "if" in step:  # a conditional up: its check runs whenever it succeeded
                assert f"steps.{step['id']}.outcome=='success'" in compact(smoke["if"])
            else:
                assert "if" not in smoke, "the check of an unconditional up always runs"
            assert "continue-on-error" not in smoke, "a failed smoke check fails the job"


@pytest.mark.parametrize("name", NAMES)
def test_inputs_and_contexts_reach_the_shell_only_through_env(name):
    for job_name, job in load(name)["jobs"].items():
        for step in steps(job):
            assert "${{" not in step.get("run", ""), (name, job_name, step.get("name"))


@pytest.mark.parametrize("name", NAMES)
def test_installs_come_from_the_lock_file_via_make_install(name):
    for job_name, job in load(name)["jobs"].items():
        runs = [s.get("run", "") for s in steps(job)]
        text = "\n".join(runs)
        assert "pip install" not in text, f"{name}:{job_name} installs with pip directly"
        if ".venv/bin/" in text:
            first_use = next(i for i, r in enumerate(runs) if ".venv/bin/" in r)
            installs = [
                i for i, r in enumerate(runs) if re.search(r"\bmake (-C \S+ )?install\b", r)
            ]
            assert installs and installs[0] < first_use, f"{name}:{job_name}: make install first"


@pytest.mark.parametrize("name", NAMES)
def test_update_plans_are_not_used_while_experimental(name):
    """`pulumi preview --save-plan` is still [EXPERIMENTAL] (hidden without PULUMI_EXPERIMENTAL)
    in the pinned CLI: reviewers approve the preview in the run summary instead (README)."""
    text = (WORKFLOWS / name).read_text()
    assert "save-plan" not in text and "PULUMI_EXPERIMENTAL" not in text
    for job in load(name)["jobs"].values():
        for step in pulumi_steps(job, None):
            assert "plan" not in step.get("with", {}), name


# --- teardown / ci ---------------------------------------------------------------------------


def test_teardown_needs_typed_confirmation_and_runs_the_safe_tool():
    wf = load("teardown-staging.yml")
    confirm = wf["on"]["workflow_dispatch"]["inputs"]["confirm"]
    assert confirm["required"] is True
    assert "schedule" in wf["on"]
    job = wf["jobs"]["teardown"]
    assert job["environment"] == "staging"
    check = steps(job)[0]
    assert check["env"]["CONFIRM"] == "${{ inputs.confirm }}"
    assert '"$CONFIRM" != "staging"' in check["run"]
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


def test_a_newer_push_to_main_cancels_the_older_ci_run_so_deploys_follow_push_order():
    wf = load("ci.yml")
    assert wf["on"]["push"]["branches"] == ["main"]
    assert wf["concurrency"]["cancel-in-progress"] is True
    assert "github.ref" in wf["concurrency"]["group"]
