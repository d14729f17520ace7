"""A model of what infra.promote asks of the outside world: ECR repositories as
`docker buildx imagetools` sees them, and `pulumi stack output --json`.

It follows Docker's documented `imagetools create` behaviour: with one source that is an image
index, the destination is a carbon copy (same digest); with one single-platform manifest and the
default `--prefer-index=true`, the output is a new index wrapping it (a different digest), while
`--prefer-index=false` keeps the manifest as is (same digest). Immutable repositories refuse to
move an existing tag. Used in-process as infra.promote's runner, or as fake `docker` and `pulumi`
executables (`python -m tests.delivery.fake_registry STATE_FILE PROGRAM ARGS...`).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path


def digest_of(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


@dataclass
class Repo:
    manifests: dict[str, bool] = field(default_factory=dict)  # digest -> is an index
    tags: dict[str, str] = field(default_factory=dict)  # tag -> digest
    immutable: bool = False


@dataclass
class World:
    repos: dict[str, Repo] = field(default_factory=dict)  # repository URL -> Repo
    stacks: dict[str, dict] = field(default_factory=dict)  # stack -> its outputs
    calls: list[list[str]] = field(default_factory=list)

    # ---- setup helpers -------------------------------------------------------------------
    def push(self, repo_url: str, content: str, *, index: bool = False, tag: str = "") -> str:
        digest = digest_of(content)
        repo = self.repos.setdefault(repo_url, Repo())
        repo.manifests[digest] = index
        if tag:
            repo.tags[tag] = digest
        return digest

    # ---- the runner ----------------------------------------------------------------------
    def __call__(self, cmd: Sequence[str]) -> subprocess.CompletedProcess:
        cmd = list(cmd)
        self.calls.append(cmd)
        try:
            out = self._dispatch(cmd)
        except LookupError as exc:
            return subprocess.CompletedProcess(cmd, 1, "", f"error: {exc}\n")
        return subprocess.CompletedProcess(cmd, 0, out, "")

    def _dispatch(self, cmd: list[str]) -> str:
        if cmd[:4] == ["docker", "buildx", "imagetools", "inspect"]:
            return self._inspect(cmd[4:])
        if cmd[:4] == ["docker", "buildx", "imagetools", "create"]:
            return self._create(cmd[4:])
        if cmd[:3] == ["pulumi", "stack", "output"]:
            stack = cmd[cmd.index("--stack") + 1]
            if "--json" not in cmd:
                raise LookupError("the model only answers --json")
            if stack not in self.stacks:
                raise LookupError(f"no stack named '{stack}' found")
            return json.dumps(self.stacks[stack])
        raise LookupError(f"the model does not know {' '.join(cmd)}")

    def _split(self, ref: str) -> tuple[Repo, str, str]:
        """`repo@digest` or `repo:tag` -> (repo, digest, how it was named)."""
        if "@" in ref:
            url, digest = ref.split("@", 1)
        else:
            url, _, tag = ref.rpartition(":")
            if url not in self.repos or tag not in self.repos[url].tags:
                raise LookupError(f"{ref}: not found")
            digest = self.repos[url].tags[tag]
        repo = self.repos.get(url)
        if repo is None or digest not in repo.manifests:
            raise LookupError(f"{ref}: not found")
        return repo, digest, ref

    def _inspect(self, args: list[str]) -> str:
        ref = args[0]
        if args[1:] != ["--format", "{{json .Manifest}}"]:
            raise LookupError(f"unexpected inspect arguments {args[1:]}")
        repo, digest, _ = self._split(ref)
        media = "index" if repo.manifests[digest] else "manifest"
        return json.dumps({"mediaType": f"application/vnd.oci.image.{media}.v1+json",
                           "digest": digest, "size": 1234}) + "\n"  # fmt: skip

    def _create(self, args: list[str]) -> str:
        prefer_index = True
        tags: list[str] = []
        sources: list[str] = []
        it = iter(args)
        for arg in it:
            if arg in ("--tag", "-t"):
                tags.append(next(it))
            elif arg.startswith("--prefer-index="):
                prefer_index = arg.split("=", 1)[1] != "false"
            elif arg.startswith("-"):
                raise LookupError(f"the model does not know {arg}")
            else:
                sources.append(arg)
        if len(sources) != 1 or not tags:
            raise LookupError("the model copies exactly one source to tagged destinations")
        source_repo, digest, _ = self._split(sources[0])
        is_index = source_repo.manifests[digest]
        if not is_index and prefer_index:
            # a new index wrapping the manifest: another digest (Docker's documented default)
            digest, is_index = digest_of(f"index wrapping {digest}"), True
        for tag_ref in tags:
            url, _, tag = tag_ref.rpartition(":")
            dest = self.repos.get(url)
            if dest is None:
                raise LookupError(f"name unknown: repository {url} does not exist")
            if dest.immutable and tag in dest.tags and dest.tags[tag] != digest:
                raise LookupError(f"tag invalid: {tag} exists in the immutable repository {url}")
            dest.manifests[digest] = is_index
            dest.tags[tag] = digest
        return ""

    # ---- persistence for the executable form ---------------------------------------------
    def save(self, path: Path) -> None:
        data = {
            "repos": {url: vars(repo) for url, repo in self.repos.items()},
            "stacks": self.stacks,
            "calls": self.calls,
        }
        path.write_text(json.dumps(data, indent=1))

    @classmethod
    def load(cls, path: Path) -> World:
        data = json.loads(path.read_text())
        return cls(
            repos={url: Repo(**repo) for url, repo in data["repos"].items()},
            stacks=data["stacks"],
            calls=data["calls"],
        )


def install_executables(bin_dir: Path, state: Path, root: Path) -> None:
    """`docker` and `pulumi` in `bin_dir` that run this model on `state`."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    for program in ("docker", "pulumi"):
        exe = bin_dir / program
        exe.write_text(
            f"#!/bin/sh\ncd '{root}' && exec '{sys.executable}' -m tests.delivery.fake_registry "
            f"'{state}' {program} \"$@\"\n"
        )
        exe.chmod(0o755)


def _main(argv: list[str]) -> int:
    state = Path(argv[0])
    world = World.load(state)
    proc = world(argv[1:])
    world.save(state)
    sys.stdout.write(proc.stdout)
    sys.stderr.write(proc.stderr)
    return proc.returncode


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
