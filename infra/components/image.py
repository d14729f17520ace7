"""The service image: built with BuildKit from the repository's Dockerfile and pushed to ECR, or
an image already in ECR, run by digest (promotion and rollback: nothing is built)."""

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
    tag: str  # the full git commit SHA (or the configured tag): never reused for another build
    platform: str  # "linux/amd64" | "linux/arm64": must match the task's runtime platform
    context: str = "."
    dockerfile: str = "Dockerfile"


class Image(pulumi.ComponentResource):
    """Build, tag by commit, push; expose ``image_ref`` = ``<repository>@<digest>``.

    The ECR credential is fetched on every run with ``get_authorization_token_output`` (tokens
    expire after 12 h, so a stored one would break ``pulumi refresh``). The task definition uses the
    digest, so a new build always rolls the service and a re-run of the same commit changes nothing.

    Nothing is built during ``pulumi preview`` (``build_on_preview=False``): a build in a preview
    still exports its cache manifest to the registry, so a pull request's preview could overwrite
    the cache the next release build reads, and a read-only preview role could not preview at all.
    The Dockerfile is still checked for syntax in a preview; the digest is known only after ``up``.
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
            build_on_preview=False,
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


@dataclass(frozen=True)
class PrebuiltImageArgs:
    image_ref: str  # "<account>.dkr.ecr.<region>.amazonaws.com/<repository>@sha256:<64 hex>"
    registry_id: str  # the account id in image_ref
    repository_name: str
    digest: str  # "sha256:<64 hex>"


class PrebuiltImage(pulumi.ComponentResource):
    """An image already in ECR, run by digest: the promotion and rollback path (nothing is built).

    ``get_image_output`` asks ECR for that digest on every run, so a typo or an image the
    lifecycle policy has expired fails ``pulumi preview`` with ECR's answer, not twenty minutes
    into an ECS deployment that cannot pull. ``image_ref`` waits for that answer.
    """

    def __init__(
        self, name: str, args: PrebuiltImageArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("service:infra:PrebuiltImage", name, None, opts)
        found = aws.ecr.get_image_output(
            registry_id=args.registry_id,
            repository_name=args.repository_name,
            image_digest=args.digest,
            opts=pulumi.InvokeOutputOptions(parent=self),
        )
        self.digest = found.image_digest
        self.image_ref = found.image_digest.apply(lambda _: args.image_ref)
        self.tag = found.image_tags.apply(lambda tags: tags[0] if tags else "")
        self.register_outputs({"imageRef": self.image_ref})
