"""infra.promote: references are parsed strictly, an image is copied by digest and the copy is
verified, and the first prod deploy (no prod repository yet) is recognised."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from infra.tools import promote
from tests.delivery.fake_registry import World, digest_of, install_executables

ROOT = Path(__file__).resolve().parents[2]
REGISTRY = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
STAGING = f"{REGISTRY}/service-staging"
PROD = f"{REGISTRY}/service-prod"
DIGEST = "sha256:" + "ab" * 32
SHA = "0123456789abcdef0123456789abcdef01234567"


def ref(repo: str = STAGING, digest: str = DIGEST) -> str:
    return f"{repo}@{digest}"


# ---- parsing ------------------------------------------------------------------------------


def test_parses_an_ecr_digest_reference_into_its_parts():
    parsed = promote.parse_image_ref(ref())
    assert parsed.repository.registry == REGISTRY
    assert parsed.repository.account == "123456789012"
    assert parsed.repository.region == "us-east-1"
    assert parsed.repository.name == "service-staging"
    assert parsed.digest == DIGEST
    assert str(parsed) == ref()


@pytest.mark.parametrize(
    "value",
    [
        f"{REGISTRY}/team/service-prod@{DIGEST}",  # namespaced repository
        f"210987654321.dkr.ecr.cn-north-1.amazonaws.com.cn/service@{DIGEST}",  # China partition
        f"210987654321.dkr.ecr.us-gov-west-1.amazonaws.com/service@{DIGEST}",
    ],
)
def test_accepts_other_valid_ecr_references(value):
    assert str(promote.parse_image_ref(value)) == value


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "empty"),
        (f"{STAGING}:latest", "no @sha256"),  # a tag: mutable, never deployed
        (f"{STAGING}:{SHA}", "no @sha256"),
        (f"{STAGING}:v1@{DIGEST}", "malformed"),  # tag and digest: ambiguous
        (f"{STAGING}@sha256:{'AB' * 32}", "64 lowercase hex"),
        (f"{STAGING}@sha256:{'ab' * 31}", "64 lowercase hex"),
        (f"{STAGING}@sha512:{'ab' * 64}", "64 lowercase hex"),
        (f"docker.io/library/python@{DIGEST}", "not ECR"),
        (f"ghcr.io/acme/service@{DIGEST}", "not ECR"),
        (f"https://{STAGING}@{DIGEST}", "URL scheme"),
        (f" {ref()}", "whitespace"),
        (f"{ref()}\nservice:imageTag: x", "whitespace"),  # YAML/config injection
        (f"12345678901.dkr.ecr.us-east-1.amazonaws.com/service@{DIGEST}", "malformed"),
        (f"{REGISTRY}/Service@{DIGEST}", "malformed"),  # ECR names are lowercase
        (f"{REGISTRY}/service;rm -rf /@{DIGEST}", "whitespace"),
        (f"{REGISTRY}/service$(id)@{DIGEST}", "malformed"),
    ],
)
def test_refuses_anything_but_an_ecr_digest_reference(value, reason):
    with pytest.raises(promote.InvalidReference, match=reason):
        promote.parse_image_ref(value)


def test_repository_url_has_neither_tag_nor_digest():
    repo = promote.parse_repository(PROD)
    assert (repo.account, repo.region, repo.name, repo.url) == (
        "123456789012", "us-east-1", "service-prod", PROD
    )  # fmt: skip
    for bad in (f"{PROD}:latest", ref(PROD), "service-prod", f"https://{PROD}"):
        with pytest.raises(promote.InvalidReference, match="repository URL"):
            promote.parse_repository(bad)


def test_tags():
    assert promote.default_tag(DIGEST) == "sha256-" + "ab" * 32
    assert promote.validate_tag(SHA) == SHA
    for bad in ("", "-x", ".x", "a" * 129, "a b", "a/b"):
        with pytest.raises(promote.InvalidReference):
            promote.validate_tag(bad)


# ---- commands -----------------------------------------------------------------------------


def test_the_copy_is_a_single_source_imagetools_create_that_keeps_the_manifest_as_is():
    source = promote.parse_image_ref(ref())
    cmd = promote.create_command(source, promote.parse_repository(PROD), SHA)
    assert cmd == [
        "docker", "buildx", "imagetools", "create", "--prefer-index=false",
        "--tag", f"{PROD}:{SHA}", ref(),
    ]  # fmt: skip
    assert promote.inspect_command(f"{PROD}:{SHA}") == [
        "docker", "buildx", "imagetools", "inspect", f"{PROD}:{SHA}",
        "--format", "{{json .Manifest}}",
    ]  # fmt: skip


# ---- promotion against the registry model -------------------------------------------------


@pytest.fixture
def world():
    w = World()
    w.push(STAGING, "the image CI built", tag=SHA)
    w.repos[PROD] = type(w.repos[STAGING])(immutable=True)
    return w


def source_in(world: World) -> promote.ImageRef:
    return promote.parse_image_ref(ref(STAGING, digest_of("the image CI built")))


def test_promotes_by_digest_and_verifies_the_copy(world):
    source = source_in(world)
    result = promote.promote(source, promote.parse_repository(PROD), SHA, runner=world)
    assert result.copied and str(result.ref) == f"{PROD}@{source.digest}"
    assert world.repos[PROD].tags[SHA] == source.digest
    assert [c[3] for c in world.calls] == ["inspect", "create", "inspect"]
    assert world.calls[2][4] == f"{PROD}:{SHA}", "the check reads what the tag now points at"


def test_a_multi_platform_index_is_carbon_copied_too(world):
    digest = world.push(STAGING, "an index with attestations", index=True)
    source = promote.parse_image_ref(ref(STAGING, digest))
    result = promote.promote(source, promote.parse_repository(PROD), runner=world)
    assert result.ref.digest == digest and world.repos[PROD].manifests[digest] is True


def test_without_prefer_index_false_the_digest_would_change_and_promotion_fails_loudly(
    world, monkeypatch
):
    """The defect --prefer-index=false prevents: Docker wraps a single manifest in a new index,
    so prod would run an image that is not the one staging tested. The verification catches it."""

    def without_the_flag(source, dest, tag):
        return [
            "docker",
            "buildx",
            "imagetools",
            "create",
            "--tag",
            f"{dest.url}:{tag}",
            str(source),
        ]

    monkeypatch.setattr(promote, "create_command", without_the_flag)
    with pytest.raises(promote.PromotionError, match="DIGEST MISMATCH"):
        promote.promote(source_in(world), promote.parse_repository(PROD), SHA, runner=world)


def test_rerun_when_prod_has_the_digest_already_copies_nothing(world):
    source = source_in(world)
    prod = promote.parse_repository(PROD)
    promote.promote(source, prod, SHA, runner=world)
    world.calls.clear()
    again = promote.promote(source, prod, "another-tag", runner=world)
    assert not again.copied and again.ref == prod.at(source.digest)
    assert [c[3] for c in world.calls] == ["inspect"], "an immutable tag is never re-pushed"


def test_rollback_to_an_image_prod_already_has_copies_nothing_and_calls_nothing(world):
    prod_ref = promote.parse_image_ref(ref(PROD, DIGEST))
    result = promote.promote(prod_ref, prod_ref.repository, runner=world)
    assert result.ref == prod_ref and not result.copied
    assert world.calls == []


def test_a_missing_source_fails_with_the_registry_error(world):
    gone = promote.parse_image_ref(ref(STAGING, "sha256:" + "00" * 32))
    with pytest.raises(promote.PromotionError, match=r"imagetools create failed.*not found"):
        promote.promote(gone, promote.parse_repository(PROD), runner=world)


def test_first_prod_deploy_has_no_repository_yet(world):
    world.stacks["prod"] = {}  # bootstrapped, never deployed
    result = promote.promote_to_stack(source_in(world), "prod", SHA, runner=world)
    assert result.first_deploy and result.ref == source_in(world) and not result.copied
    assert all(c[0] == "pulumi" for c in world.calls), "nothing to copy into yet"


def test_later_prod_deploys_promote_into_the_repository_the_stack_outputs(world):
    world.stacks["prod"] = {"repositoryUrl": PROD, "imageRef": ref(PROD)}
    result = promote.promote_to_stack(source_in(world), "prod", SHA, runner=world)
    assert not result.first_deploy and result.copied
    assert result.ref.repository.url == PROD


def test_an_unknown_stack_is_an_error_not_a_first_deploy(world):
    with pytest.raises(promote.PromotionError, match="no stack named 'prod'"):
        promote.promote_to_stack(source_in(world), "prod", runner=world)


def test_resolve_takes_the_given_image_or_what_the_stack_runs_now(world):
    world.stacks["prod"] = {"imageRef": ref(PROD)}
    assert str(promote.resolve(ref(), "prod", runner=world)) == ref()
    assert str(promote.resolve("", "prod", runner=world)) == ref(PROD)
    with pytest.raises(promote.InvalidReference, match="no image given"):
        promote.resolve("", None, runner=world)
    world.stacks["staging"] = {}
    with pytest.raises(promote.InvalidReference, match="push to main"):
        promote.resolve("  ", "staging", runner=world)


# ---- the command line ---------------------------------------------------------------------


def cli(*args: str, path: str = "/nonexistent", tmp_env: dict | None = None):
    env = {"PATH": path, "HOME": os.environ.get("HOME", "/tmp"), **(tmp_env or {})}
    return subprocess.run(
        [sys.executable, "-m", "infra.promote", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip


def test_dry_run_prints_the_commands_and_needs_no_docker():
    result = cli("--source", ref(), "--dest-repo", PROD, "--tag", SHA, "--dry-run")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    create = f"docker buildx imagetools create --prefer-index=false --tag {PROD}:{SHA} {ref()}"
    assert create in lines
    assert any(line.startswith(f"docker buildx imagetools inspect {PROD}:{SHA}") for line in lines)
    assert lines[-1] == ref(PROD), "the last line is the reference to deploy"


def test_check_refuses_a_bad_reference_with_exit_2():
    result = cli("--check", f"{STAGING}:latest")
    assert result.returncode == 2
    assert "no @sha256" in result.stderr and "Traceback" not in result.stderr
    assert cli("--check", ref()).stdout.strip() == ref()


def test_promotes_end_to_end_with_fake_docker_and_pulumi_executables(world, tmp_path):
    world.stacks["prod"] = {"repositoryUrl": PROD}
    state = tmp_path / "world.json"
    world.save(state)
    install_executables(tmp_path / "bin", state, ROOT)
    out, summary = tmp_path / "github_output", tmp_path / "summary.md"
    source = str(source_in(world))
    result = cli(
        "--source", source, "--dest-stack", "prod", "--tag", SHA,
        "--github-output", str(out), "--summary", str(summary),
        path=f"{tmp_path / 'bin'}:/usr/bin:/bin",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    promoted = f"{PROD}@{source_in(world).digest}"
    assert result.stdout.strip().splitlines()[-1] == promoted
    assert out.read_text().splitlines() == [
        f"ref={promoted}",
        f"digest={source_in(world).digest}",
        "first_deploy=false",
    ]
    assert source_in(world).digest in summary.read_text()
    after = World.load(state)
    assert after.repos[PROD].tags[SHA] == source_in(world).digest
    assert after.calls[0][:4] == ["pulumi", "stack", "output", "--json"]


def test_first_deploy_is_reported_to_the_workflow(world, tmp_path):
    world.stacks["prod"] = {}
    state = tmp_path / "world.json"
    world.save(state)
    install_executables(tmp_path / "bin", state, ROOT)
    out = tmp_path / "github_output"
    result = cli(
        "--source", str(source_in(world)), "--dest-stack", "prod", "--github-output", str(out),
        path=f"{tmp_path / 'bin'}:/usr/bin:/bin",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "first_deploy=true" in out.read_text().splitlines()
    assert f"ref={source_in(world)}" in out.read_text().splitlines()
    assert json.loads(state.read_text())["repos"][PROD]["tags"] == {}
