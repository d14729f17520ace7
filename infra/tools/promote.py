"""Promote an image by digest from one ECR repository into another (staging's into prod's).

``python -m infra.promote --source REF --dest-repo URL [--tag TAG] [--dry-run]``
    Copy ``REF`` (``<account>.dkr.ecr.<region>.amazonaws.com/<repo>@sha256:<64 hex>``) into
    ``URL`` with ``docker buildx imagetools create --prefer-index=false --tag URL:TAG REF`` (one
    source is carbon-copied, so the digest is preserved; ``--prefer-index=false`` keeps a
    single-platform manifest as it is instead of wrapping it in a new index), then check with
    ``docker buildx imagetools inspect URL:TAG --format '{{json .Manifest}}'`` that the copy has
    the source's digest. Prints the promoted reference ``URL@sha256:...`` as the last line of
    stdout. Nothing is copied when the source already is in ``URL`` (a rollback to an image the
    destination has) or when the destination already holds that digest (a re-run).

``python -m infra.promote --source REF --dest-stack STACK ...``
    The same, with ``URL`` read from ``pulumi stack output --json --stack STACK``
    (``repositoryUrl``). A stack that exists but has no ``repositoryUrl`` yet is a first deploy:
    nothing is copied, the source reference is printed and ``first_deploy=true`` is written to
    ``--github-output`` (deploy with the source, then promote into the new repository and deploy
    again; see .github/workflows/deploy.yml).

``python -m infra.promote --check REF``
    Validate ``REF`` and print it (exit 2 with the reason when it is not an ECR digest reference).

``python -m infra.promote --resolve REF [--current-of STACK]``
    ``REF`` validated; an empty ``REF`` means the image ``STACK`` runs now (its ``imageRef``
    output), so a manual redeploy never builds.

``--dry-run`` prints the commands (and reads stack outputs, which writes nothing). Exit codes:
0 done, 1 a command failed or the digests differ, 2 invalid input or no such stack output.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from infra import catalog

EXIT_FAILED = 1
EXIT_INVALID = 2

REPOSITORY_URL = catalog.ECR_REPOSITORY_URL
IMAGE_REF = catalog.ECR_IMAGE_REF
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
MAX_REPOSITORY_NAME = 256

Runner = Callable[[Sequence[str]], subprocess.CompletedProcess]


class InvalidReference(ValueError):
    """Not an ECR repository URL or digest reference; the message says what is wrong."""


class PromotionError(RuntimeError):
    """A command failed or the destination digest differs from the source's."""


@dataclass(frozen=True)
class Repository:
    registry: str  # 123456789012.dkr.ecr.us-east-1.amazonaws.com
    account: str
    region: str
    name: str  # the repository name inside the registry, e.g. service-prod

    @property
    def url(self) -> str:
        return f"{self.registry}/{self.name}"

    def at(self, digest: str) -> ImageRef:
        return ImageRef(self, digest)

    def __str__(self) -> str:
        return self.url


@dataclass(frozen=True)
class ImageRef:
    repository: Repository
    digest: str  # sha256:<64 hex>

    def __str__(self) -> str:
        return f"{self.repository.url}@{self.digest}"


def _explain(value: str, what: str, example: str) -> str:
    shown = value if len(value) <= 200 else value[:200] + "..."
    if not value:
        reason = "it is empty"
    elif value != value.strip() or any(c.isspace() for c in value):
        reason = "it contains whitespace"
    elif "://" in value:
        reason = "it has a URL scheme; give the registry host without one"
    elif "@" not in value and what == "image reference":
        reason = "it has no @sha256:<digest> (tags are mutable: promote and deploy by digest only)"
    elif what == "image reference" and not DIGEST.match(value.rsplit("@", 1)[1]):
        reason = "the digest is not sha256: followed by 64 lowercase hex digits"
    elif ".dkr.ecr." not in value.split("/", 1)[0]:
        reason = "the registry is not ECR's <12-digit account>.dkr.ecr.<region>.amazonaws.com"
    else:
        reason = "the account, region or repository name is malformed"
    return f"{what} {shown!r} is invalid: {reason}; expected {example}"


def _repository(match: re.Match[str]) -> Repository:
    if len(match["name"]) > MAX_REPOSITORY_NAME:
        raise InvalidReference(f"repository name longer than {MAX_REPOSITORY_NAME} characters")
    return Repository(match["registry"], match["account"], match["region"], match["name"])


def parse_repository(url: str) -> Repository:
    """``<account>.dkr.ecr.<region>.amazonaws.com/<repo>`` -> Repository (no tag, no digest)."""
    match = REPOSITORY_URL.match(url)
    if match is None:
        raise InvalidReference(
            _explain(url, "repository URL", "<account>.dkr.ecr.<region>.amazonaws.com/<repo>")
        )
    return _repository(match)


def parse_image_ref(ref: str) -> ImageRef:
    """``<account>.dkr.ecr.<region>.amazonaws.com/<repo>@sha256:<64 hex>`` -> ImageRef."""
    match = IMAGE_REF.match(ref)
    if match is None:
        raise InvalidReference(
            _explain(
                ref,
                "image reference",
                "<account>.dkr.ecr.<region>.amazonaws.com/<repo>@sha256:<64 hex>",
            )
        )
    return ImageRef(_repository(match), match["digest"])


def default_tag(digest: str) -> str:
    """The tag a promoted image gets when none is given: ``sha256-<hex>`` (a digest names it)."""
    return digest.replace(":", "-")


def validate_tag(tag: str) -> str:
    if not TAG.match(tag):
        raise InvalidReference(
            f"tag {tag!r} is invalid: up to 128 of [A-Za-z0-9_.-], not starting with . or -"
        )
    return tag


# ---- commands -----------------------------------------------------------------------------


def inspect_command(ref: str) -> list[str]:
    return ["docker", "buildx", "imagetools", "inspect", ref, "--format", "{{json .Manifest}}"]


def create_command(source: ImageRef, dest: Repository, tag: str) -> list[str]:
    return [
        "docker",
        "buildx",
        "imagetools",
        "create",
        "--prefer-index=false",
        "--tag",
        f"{dest.url}:{tag}",
        str(source),
    ]


def stack_outputs_command(stack: str) -> list[str]:
    return ["pulumi", "stack", "output", "--json", "--stack", stack]


def digest_from_inspect(stdout: str) -> str:
    """The digest in ``imagetools inspect --format '{{json .Manifest}}'`` output."""
    try:
        manifest = json.loads(stdout)
    except json.JSONDecodeError as exc:
        raise PromotionError(f"imagetools inspect printed no JSON: {stdout[:200]!r}") from exc
    digest = manifest.get("digest") if isinstance(manifest, dict) else None
    if not isinstance(digest, str) or not DIGEST.match(digest):
        raise PromotionError(f"imagetools inspect printed no sha256 digest: {stdout[:200]!r}")
    return digest


def run_command(cmd: Sequence[str]) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 (fixed argument lists, no shell)
        list(cmd), capture_output=True, text=True, check=False, timeout=600
    )


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ---- promotion ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    ref: ImageRef  # what the destination stack should run
    copied: bool
    first_deploy: bool = False
    note: str = ""


def promote(
    source: ImageRef,
    dest: Repository,
    tag: str | None = None,
    *,
    runner: Runner = run_command,
    dry_run: bool = False,
) -> Result:
    """Copy ``source`` into ``dest`` by digest and verify it; return the destination reference."""
    target = dest.at(source.digest)
    if source.repository == dest:
        note = f"{source} already is in {dest.url}: nothing to copy"
        _log(note)
        return Result(target, copied=False, note=note)
    tag = validate_tag(tag) if tag else default_tag(source.digest)
    create = create_command(source, dest, tag)
    verify = inspect_command(f"{dest.url}:{tag}")
    if dry_run:
        print(f"# unless {target} exists already:")
        print(shlex.join(create))
        print(shlex.join(verify) + f"  # must report {source.digest}")
        return Result(target, copied=False, note="dry run")

    present = runner(inspect_command(str(target)))
    if present.returncode == 0 and digest_from_inspect(present.stdout) == source.digest:
        note = f"{target} exists already: nothing to copy"
        _log(note)
        return Result(target, copied=False, note=note)

    _log(f"+ {shlex.join(create)}")
    done = runner(create)
    if done.returncode != 0:
        raise PromotionError(
            f"imagetools create failed ({done.returncode}): {(done.stderr or done.stdout).strip()}"
        )
    _log(f"+ {shlex.join(verify)}")
    check = runner(verify)
    if check.returncode != 0:
        raise PromotionError(
            f"cannot inspect {dest.url}:{tag} after the copy ({check.returncode}): "
            f"{(check.stderr or check.stdout).strip()}"
        )
    copied = digest_from_inspect(check.stdout)
    if copied != source.digest:
        raise PromotionError(
            f"DIGEST MISMATCH: {dest.url}:{tag} is {copied}, the source is {source.digest}; "
            "the copy is not the tested image, refusing to deploy it"
        )
    note = f"promoted {source} -> {target} (tag {tag}), digest verified"
    _log(note)
    return Result(target, copied=True, note=note)


def stack_outputs(stack: str, runner: Runner = run_command) -> dict:
    """``pulumi stack output --json --stack STACK``; a missing stack is an error."""
    proc = runner(stack_outputs_command(stack))
    if proc.returncode != 0:
        raise PromotionError(
            f"cannot read the outputs of stack {stack!r} ({proc.returncode}): "
            f"{(proc.stderr or proc.stdout).strip()}"
        )
    try:
        outputs = json.loads(proc.stdout or "{}")
    except json.JSONDecodeError as exc:
        raise PromotionError(
            f"stack {stack!r} outputs are not JSON: {proc.stdout[:200]!r}"
        ) from exc
    if not isinstance(outputs, dict):
        raise PromotionError(f"stack {stack!r} outputs are not a JSON object")
    return outputs


def promote_to_stack(
    source: ImageRef,
    stack: str,
    tag: str | None = None,
    *,
    runner: Runner = run_command,
    dry_run: bool = False,
) -> Result:
    """Promote into the repository ``stack`` created; before its first deploy there is none yet:
    return the source itself with ``first_deploy=True`` (the caller deploys it, then promotes)."""
    url = stack_outputs(stack, runner).get("repositoryUrl")
    if not url:
        note = (
            f"stack {stack!r} has no repositoryUrl output yet (first deploy): deploy {source} "
            f"first, then promote into the repository that deploy creates"
        )
        _log(note)
        return Result(source, copied=False, first_deploy=True, note=note)
    return promote(source, parse_repository(url), tag, runner=runner, dry_run=dry_run)


def resolve(ref: str, current_of: str | None = None, *, runner: Runner = run_command) -> ImageRef:
    """``ref`` validated; empty means the image ``current_of`` runs now (never a build)."""
    if ref.strip():
        return parse_image_ref(ref)
    if not current_of:
        raise InvalidReference("no image given")
    current = stack_outputs(current_of, runner).get("imageRef")
    if not current:
        raise InvalidReference(
            f"no image given and stack {current_of!r} runs none (no imageRef output: never "
            "deployed or torn down); pass an image reference, or push to main to build one"
        )
    return parse_image_ref(current)


# ---- reporting ----------------------------------------------------------------------------


def write_github_output(path: Path, values: dict[str, str]) -> None:
    with path.open("a", encoding="utf-8") as out:
        for key, value in values.items():
            if "\n" in value or "\r" in value:
                raise ValueError(f"{key}: a step output must be one line")
            out.write(f"{key}={value}\n")


def summary_markdown(source: ImageRef, result: Result, *, dry_run: bool) -> str:
    lines = [
        "### Image" + (" to ship" if dry_run else " shipped"),
        "",
        f"- digest: `{source.digest}`",
        f"- source: `{source}`",
    ]
    if result.first_deploy:
        lines.append(
            "- first deploy of this stack: it runs the source once, then the same digest "
            "promoted into its own repository"
        )
    else:
        lines.append(f"- {'will run' if dry_run else 'runs'}: `{result.ref}`")
    if result.note and result.note != "dry run":
        lines.append(f"- {result.note}")
    return "\n".join(lines) + "\n\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.promote",
        description="Promote an image by digest between ECR repositories (see the module doc).",
    )
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--source", help="image to promote: <repo>@sha256:<digest>")
    mode.add_argument("--check", metavar="REF", help="validate REF and print it")
    mode.add_argument(
        "--resolve", metavar="REF", help="validate REF; empty: the image of --current-of"
    )
    dest = parser.add_mutually_exclusive_group()
    dest.add_argument("--dest-repo", metavar="URL", help="destination repository URL")
    dest.add_argument("--dest-stack", metavar="STACK", help="destination: STACK's repositoryUrl")
    parser.add_argument("--tag", default="", help="tag in the destination (default sha256-<hex>)")
    parser.add_argument("--current-of", metavar="STACK", help="with --resolve")
    parser.add_argument("--dry-run", action="store_true", help="print the commands only")
    parser.add_argument("--github-output", type=Path, help="append key=value lines to this file")
    parser.add_argument("--summary", type=Path, help="append a markdown summary to this file")
    args = parser.parse_args(argv)

    try:
        if args.check is not None or args.resolve is not None:
            if args.dest_repo or args.dest_stack:
                parser.error("--dest-repo/--dest-stack go with --source")
            if args.check is not None:
                ref = parse_image_ref(args.check)
            else:
                ref = resolve(args.resolve, args.current_of)
            if args.github_output:
                write_github_output(args.github_output, {"ref": str(ref), "digest": ref.digest})
            print(ref)
            return 0

        if not (args.dest_repo or args.dest_stack):
            parser.error("--source needs --dest-repo or --dest-stack")
        source = parse_image_ref(args.source)
        if args.dest_repo:
            result = promote(
                source, parse_repository(args.dest_repo), args.tag or None, dry_run=args.dry_run
            )
        else:
            result = promote_to_stack(
                source, args.dest_stack, args.tag or None, dry_run=args.dry_run
            )
    except InvalidReference as exc:
        print(f"promote: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except PromotionError as exc:
        print(f"promote: FAILED: {exc}", file=sys.stderr)
        return EXIT_FAILED

    if args.github_output:
        write_github_output(
            args.github_output,
            {
                "ref": str(result.ref),
                "digest": source.digest,
                "first_deploy": "true" if result.first_deploy else "false",
            },
        )
    if args.summary:
        with args.summary.open("a", encoding="utf-8") as out:
            out.write(summary_markdown(source, result, dry_run=args.dry_run))
    print(result.ref)
    return 0


if __name__ == "__main__":
    sys.exit(main())
