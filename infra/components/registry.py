"""ECR repository: scan on push, lifecycle policy, immutable tags where configured."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

# The registry build cache is re-pushed under this tag on every build, so it must stay mutable
# even in a repository whose release tags are immutable.
CACHE_TAG = "buildcache"


@dataclass(frozen=True)
class RegistryArgs:
    immutable_tags: bool
    force_delete: bool
    keep_images: int = 20
    protect: bool = False


def lifecycle_policy(keep_images: int) -> str:
    """Expire untagged images after a day; keep only the newest ``keep_images`` images."""
    return json.dumps(
        {
            "rules": [
                {
                    "rulePriority": 1,
                    "description": "Expire untagged images after 1 day",
                    "selection": {
                        "tagStatus": "untagged",
                        "countType": "sinceImagePushed",
                        "countUnit": "days",
                        "countNumber": 1,
                    },
                    "action": {"type": "expire"},
                },
                {
                    "rulePriority": 2,
                    "description": f"Keep the last {keep_images} images",
                    "selection": {
                        "tagStatus": "any",
                        "countType": "imageCountMoreThan",
                        "countNumber": keep_images,
                    },
                    "action": {"type": "expire"},
                },
            ]
        },
        sort_keys=True,
    )


class Registry(pulumi.ComponentResource):
    def __init__(self, name: str, args: RegistryArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("service:infra:Registry", name, None, opts)
        exclusions = None
        mutability = "MUTABLE"
        if args.immutable_tags:
            mutability = "IMMUTABLE_WITH_EXCLUSION"
            exclusions = [
                aws.ecr.RepositoryImageTagMutabilityExclusionFilterArgs(
                    filter=f"{CACHE_TAG}*", filter_type="WILDCARD"
                )
            ]
        self.repository = aws.ecr.Repository(
            f"{name}-repo",
            image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(
                scan_on_push=True
            ),
            image_tag_mutability=mutability,
            image_tag_mutability_exclusion_filters=exclusions,
            encryption_configurations=[
                aws.ecr.RepositoryEncryptionConfigurationArgs(encryption_type="AES256")
            ],
            force_delete=args.force_delete,
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        aws.ecr.LifecyclePolicy(
            f"{name}-lifecycle",
            repository=self.repository.name,
            policy=lifecycle_policy(args.keep_images),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.repository_url = self.repository.repository_url
        self.registry_id = self.repository.registry_id
        self.register_outputs({"repositoryUrl": self.repository_url})
