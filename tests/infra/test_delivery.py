"""What a real preview and deploy need from the program: previews write nothing, `imageRef` runs
one digest without a build (promotion and rollback), and replaced task definitions stay ACTIVE."""

from __future__ import annotations

import json

import pytest

from infra.tools.mocks import MISSING_DIGEST, UNKNOWN, Run, run_program
from infra.tools.plan import load_stack_config, main
from policy import rules
from tests.infra.conftest import STACKS, TEST_IMAGE_TAG, containers, run_stack

IMAGE = "docker-build:index:Image"
TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
DIGEST = "sha256:" + "ab" * 32
STAGING_REPO = "123456789012.dkr.ecr.us-east-1.amazonaws.com/registry-repo-staging"
PROMOTED = f"{STAGING_REPO}@{DIGEST}"


def preview(stack: str, **overrides) -> Run:
    config = {**load_stack_config(stack), "service:imageTag": TEST_IMAGE_TAG}
    config.update({f"service:{k}": v for k, v in overrides.items()})
    return run_program(stack, config, preview=True)


def registry_writes_during_preview(run: Run) -> list[str]:
    """The engine's rule for pulumi-docker-build in a preview: an Image builds unless
    `buildOnPreview` is false, and a preview build "never exports to registries, however cache
    manifests are still exported" (the provider's docstring). So any cacheTo is a write."""
    writes = []
    for image in run.of_type(IMAGE):
        inputs = image.plain_inputs()
        if inputs.get("buildOnPreview", True) is not False:
            writes += [f"{image.name} -> {c['registry']['ref']}" for c in inputs.get("cacheTo", [])]
    return writes


@pytest.mark.parametrize("stack", STACKS)
def test_a_preview_writes_nothing_to_any_registry(stack):
    run = preview(stack)
    assert run.of_type(IMAGE), "expected the image build to be declared"
    assert registry_writes_during_preview(run) == []


def test_the_preview_rule_flags_the_provider_default():
    """The engine model above is not vacuous: the provider's default (build in previews)
    with a registry cache is a write, and the policy pack refuses it too."""
    run = run_stack("dev")
    (image,) = run.of_type(IMAGE)
    image.inputs.pop("buildOnPreview")
    try:
        assert registry_writes_during_preview(run) != []
        resource = rules.Resource(type=IMAGE, name=image.name, props=image.plain_inputs())
        assert rules.image_not_built_in_preview(resource) != []
    finally:
        image.inputs["buildOnPreview"] = False


def test_in_a_preview_the_digest_is_unknown_so_nothing_pretends_it_was_built():
    run = preview("staging")
    assert run.outputs == {} or run.outputs.get("imageRef") in (None, UNKNOWN)
    app = run.named("app-app").redacted_inputs()
    assert app["containerDefinitions"] == UNKNOWN


def test_plan_preview_flag_renders_unknowns(capsys):
    assert (
        main(["--stack", "dev", "--preview", "--json", "--config", f"imageTag={TEST_IMAGE_TAG}"])
        == 0
    )
    data = json.loads(capsys.readouterr().out)
    (image,) = [r for r in data if r["type"] == IMAGE]
    assert image["inputs"]["buildOnPreview"] is False
    (app,) = [r for r in data if r["name"] == "app-app"]
    assert app["inputs"]["containerDefinitions"] == UNKNOWN


# ---- imageRef: promotion and rollback, nothing built -------------------------------------------


@pytest.fixture(scope="module")
def promoted() -> Run:
    return run_stack("prod", imageRef=PROMOTED)


def test_image_ref_builds_nothing(promoted):
    assert promoted.of_type(IMAGE) == []
    assert not [r for r in promoted.resources if r.type.startswith("docker-build:")]


def test_image_ref_runs_that_digest_in_every_container(promoted):
    definitions = promoted.of_type(TASK_DEFINITION)
    assert {d.name for d in definitions} >= {"app-app", "worker-worker"}
    images = {(d.name, name): c["image"] for d in definitions for name, c in containers(d).items()}
    assert set(images.values()) == {PROMOTED}, images
    assert promoted.outputs["imageRef"] == PROMOTED


def test_image_ref_is_checked_against_the_registry_at_preview():
    """A typo or an image the lifecycle policy expired fails the preview with ECR's answer."""
    missing = f"{STAGING_REPO}@{MISSING_DIGEST}"
    with pytest.raises(Exception, match="ImageNotFoundException"):
        preview("dev", imageRef=missing)


@pytest.mark.parametrize(
    "ref",
    [
        f"{STAGING_REPO}:v1",  # a tag can move: only a digest is a promise
        f"{STAGING_REPO}@sha256:abc",
        f"ghcr.io/acme/app@{DIGEST}",
    ],
)
def test_image_ref_must_be_an_ecr_digest(ref):
    with pytest.raises(Exception, match=r"service:imageRef in stack 'dev': expected an ECR image"):
        run_stack("dev", imageRef=ref)


def test_image_ref_from_another_region_is_refused():
    ref = PROMOTED.replace("us-east-1", "eu-west-1")
    with pytest.raises(Exception, match="service:imageRef in stack 'dev': expected an image in"):
        run_stack("dev", imageRef=ref)


def test_a_new_commit_tags_a_new_image_with_the_full_sha(stack_run):
    sha = "f" * 40
    run = stack_run("staging", imageTag=sha)
    (image,) = run.of_type(IMAGE)
    assert image.plain_inputs()["tags"] == [f"{run.outputs['repositoryUrl']}:{sha}"]


# ---- rollback keeps working after replacements --------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_replaced_task_definitions_stay_registered_for_rollback(stack):
    """Without skip_destroy a replacement deregisters the old revision (INACTIVE), and neither
    the circuit breaker nor `update-service --task-definition family:N` can go back to it."""
    run = run_stack(stack)
    for definition in run.of_type(TASK_DEFINITION):
        assert definition.inputs.get("skipDestroy") is True, definition.name


def test_plan_config_overrides_the_stack_file_for_one_run(capsys):
    assert main(["--stack", "prod", "--json", "--config", f"imageRef={PROMOTED}"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert not [r for r in data if r["type"].startswith("docker-build:")]
    assert (
        "service:imageRef" not in load_stack_config("prod")
        or not load_stack_config("prod")["service:imageRef"]
    )


def test_plan_config_without_a_value_is_a_clear_error(capsys):
    assert main(["--stack", "dev", "--config", "imageRef"]) == 2
    assert "--config 'imageRef': expected KEY=VALUE" in capsys.readouterr().err


# ---- IAM roles fit the bootstrap's deploy roles ------------------------------------------------

BOUNDARY = "arn:aws:iam::123456789012:policy/service-ci/service-workload-boundary"


@pytest.mark.parametrize("stack", STACKS)
def test_every_role_lives_under_the_stack_path(stack):
    """The deploy roles may create roles only under /service-<stack>/."""
    roles = run_stack(stack).of_type("aws:iam/role:Role")
    # execution, task, scheduler; prod also RDS Enhanced Monitoring's and ECS's infrastructure
    # role for its canary deployments
    assert len(roles) == (5 if stack == "prod" else 3)
    assert {r.inputs.get("path") for r in roles} == {f"/service-{stack}/"}
    assert all(not r.inputs.get("permissionsBoundary") for r in roles)


def test_configured_boundary_is_set_on_every_role():
    roles = run_stack("staging", permissionsBoundaryArn=BOUNDARY).of_type("aws:iam/role:Role")
    assert {r.inputs["permissionsBoundary"] for r in roles} == {BOUNDARY}


def test_boundary_must_be_a_policy_arn():
    with pytest.raises(Exception, match=r"service:permissionsBoundaryArn in stack 'dev': expected"):
        run_stack("dev", permissionsBoundaryArn="service-workload-boundary")


def test_staging_and_prod_run_the_same_cpu_architecture():
    """Prod runs the image staging built (promotion copies its digest): an ARM64 prod behind an
    X86_64 staging would start tasks that cannot execute the image."""
    arch = {
        stack: load_stack_config(stack).get("service:cpuArchitecture", "X86_64")
        for stack in ("staging", "prod")
    }
    assert arch["staging"] == arch["prod"], arch
