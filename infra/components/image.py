"""The service image: built with BuildKit from the repository's Dockerfile and pushed to ECR."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_docker_build as docker_build

from infra.components.registry import CACHE_TAG


@dataclass(frozen=True)
class ImageArgs:
    repository_url: pulumi.Input[str]
    registry_id: pulumi.Input[str]
    tag: str  # the git commit (or the configured tag)
    platform: str  # "linux/amd64" | "linux/arm64": must match the task's runtime platform
    context: str = "."
    dockerfile: str = "Dockerfile"


class Image(pulumi.ComponentResource):
    """Build, tag by commit, push; expose ``image_ref`` = ``<repository>@<digest>``.

    The ECR credential is fetched on every run with ``get_authorization_token_output`` (tokens
    expire after 12 h, so a stored one would break ``pulumi refresh``). The task definition uses the
    digest, so a new build always rolls the service and a re-run of the same commit changes nothing.
    """

    def __init__(self, name: str, args: ImageArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("service:infra:Image", name, None, opts)
        token = aws.ecr.get_authorization_token_output(
            registry_id=args.registry_id, opts=pulumi.InvokeOutputOptions(parent=self)
        )
        repo = pulumi.Output.from_input(args.repository_url)
        cache_ref = pulumi.Output.concat(repo, ":", CACHE_TAG)
        platform = docker_build.Platform(args.platform)

        self.image = docker_build.Image(
            f"{name}-image",
            context=docker_build.BuildContextArgs(location=args.context),
            dockerfile=docker_build.DockerfileArgs(location=args.dockerfile),
            platforms=[platform],
            tags=[pulumi.Output.concat(repo, ":", args.tag)],
            push=True,
            registries=[
                docker_build.RegistryArgs(
                    address=repo,
                    username=token.user_name,
                    password=pulumi.Output.secret(token.password),
                )
            ],
            cache_from=[
                docker_build.CacheFromArgs(
                    registry=docker_build.CacheFromRegistryArgs(ref=cache_ref)
                )
            ],
            cache_to=[
                docker_build.CacheToArgs(
                    registry=docker_build.CacheToRegistryArgs(
                        ref=cache_ref,
                        mode=docker_build.CacheMode.MAX,
                        image_manifest=True,
                        oci_media_types=True,
                    )
                )
            ],
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.tag = args.tag
        self.tagged_ref = pulumi.Output.concat(repo, ":", args.tag)
        self.digest = self.image.digest
        self.image_ref = pulumi.Output.concat(repo, "@", self.image.digest)
        self.register_outputs({"imageRef": self.image_ref})
