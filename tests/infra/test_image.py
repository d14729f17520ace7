"""Image: built from the Dockerfile, tagged by commit, pushed with a fresh ECR token."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from infra.components.registry import lifecycle_policy
from infra.config import git_commit
from tests.infra.conftest import TEST_IMAGE_TAG


def test_image_is_tagged_with_the_configured_commit_and_pushed(dev):
    image = dev.named("image-image").plain_inputs()
    repo = dev.outputs["repositoryUrl"]
    assert image["tags"] == [f"{repo}:{TEST_IMAGE_TAG}"]
    assert image["push"] is True
    assert image["context"] == {"location": "."}
    assert image["dockerfile"] == {"location": "Dockerfile"}


def test_registry_credentials_come_from_the_ecr_token_and_stay_secret(dev):
    image = dev.named("image-image")
    assert image.redacted_inputs()["registries"] == "[secret]"
    (registry,) = image.plain_inputs()["registries"]
    assert registry == {
        "address": dev.outputs["repositoryUrl"],
        "username": "AWS",
        "password": "mock-ecr-password",
    }


def test_build_uses_the_registry_cache_in_the_same_repository(dev):
    image = dev.named("image-image").plain_inputs()
    cache_ref = f"{dev.outputs['repositoryUrl']}:buildcache"
    assert image["cacheFrom"] == [{"registry": {"ref": cache_ref}}]
    (cache_to,) = image["cacheTo"]
    assert cache_to["registry"]["ref"] == cache_ref
    assert cache_to["registry"]["mode"] == "max"
    assert cache_to["registry"]["imageManifest"] is True  # what ECR accepts for cache manifests


def test_registry_scans_on_push_and_expires_old_images(any_stack):
    _, run = any_stack
    repo = run.named("registry-repo").inputs
    assert repo["imageScanningConfiguration"] == {"scanOnPush": True}
    rules = json.loads(run.named("registry-lifecycle").inputs["policy"])["rules"]
    untagged, keep = rules
    assert untagged["selection"] == {
        "tagStatus": "untagged",
        "countType": "sinceImagePushed",
        "countUnit": "days",
        "countNumber": 1,
    }
    assert keep["selection"]["countType"] == "imageCountMoreThan"
    assert keep["rulePriority"] > untagged["rulePriority"]  # "any" must have the last priority


def test_lifecycle_policy_keeps_the_requested_number_of_images():
    rules = json.loads(lifecycle_policy(5))["rules"]
    assert rules[1]["selection"]["countNumber"] == 5


def test_git_commit_is_none_outside_a_repository(tmp_path):
    assert git_commit(tmp_path) is None


@pytest.mark.skipif(shutil.which("git") is None, reason="git not installed")
def test_git_commit_is_the_full_head_sha(tmp_path):
    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    git(
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@example.com",
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        "x",
    )
    commit = git_commit(tmp_path)
    # The full SHA: a 12-character prefix can collide, and a reused tag on an immutable
    # repository fails the push.
    assert commit is not None and re.fullmatch(r"[0-9a-f]{40}", commit), commit


def test_a_new_commit_changes_the_task_definition(stack_run, dev):
    first = dev
    second = stack_run("dev", imageTag="bbbbbbbbbbbb")
    assert first.outputs["imageRef"] != second.outputs["imageRef"]
    assert (
        first.named("app-app").inputs["containerDefinitions"]
        != second.named("app-app").inputs["containerDefinitions"]
    )
