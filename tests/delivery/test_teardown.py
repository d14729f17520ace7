"""infra.teardown refuses anything not disposable and works without the pulumi CLI for refusals
and dry runs; after a teardown, the deploy workflow brings the stack back with its committed
config (checked against a model of the CLI and its state backend)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from infra import stackfiles
from infra.tools import teardown
from tests.support.processes import fake_cli

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def project(tmp_path):
    """A project directory with Pulumi.yaml and three stack config files."""
    (tmp_path / "Pulumi.yaml").write_text("name: service\nruntime: python\n")
    (tmp_path / "Pulumi.staging.yaml").write_text(
        'config:\n  aws:region: us-east-1\n  service:ephemeral: "true"\n'
    )
    (tmp_path / "Pulumi.dev.yaml").write_text("config:\n  aws:region: us-east-1\n")
    (tmp_path / "Pulumi.prod.yaml").write_text(
        'config:\n  aws:region: us-east-1\n  service:ephemeral: "true"\n'  # even if mislabelled
    )
    (tmp_path / "Pulumi.qa.yaml").write_text('config:\n  service:ephemeral: "false"\n')
    return tmp_path


def run(*args, env_path: str | None = None):
    env = dict(os.environ)
    if env_path is not None:
        env["PATH"] = env_path
    return subprocess.run(
        [sys.executable, "-m", "infra.teardown", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip


def test_prod_is_refused_even_when_marked_ephemeral(project):
    result = run("--stack", "prod", "--root", str(project), "--dry-run")
    assert result.returncode == 2
    assert "'prod'" in result.stderr and "production" in result.stderr
    assert result.stdout == ""


def test_org_qualified_prod_is_refused(project):
    with pytest.raises(teardown.Refusal, match="production"):
        teardown.check_disposable("acme/service/prod", project)


def test_stack_without_the_ephemeral_flag_is_refused(project):
    result = run("--stack", "dev", "--root", str(project))
    assert result.returncode == 2
    assert "'dev'" in result.stderr and "service:ephemeral" in result.stderr


def test_stack_with_the_flag_set_false_is_refused(project):
    result = run("--stack", "qa", "--root", str(project))
    assert result.returncode == 2
    assert "'qa'" in result.stderr and "not true" in result.stderr


def test_stack_without_a_config_file_is_refused(project):
    result = run("--stack", "preview-42", "--root", str(project))
    assert result.returncode == 2
    assert "Pulumi.preview-42.yaml is missing" in result.stderr


def test_flag_of_another_project_does_not_count(project):
    (project / "Pulumi.other.yaml").write_text('config:\n  otherproject:ephemeral: "true"\n')
    with pytest.raises(teardown.Refusal, match="service:ephemeral"):
        teardown.check_disposable("other", project)


def test_dry_run_prints_destroy_only_by_default(project):
    result = run("--stack", "staging", "--root", str(project), "--dry-run", env_path="/nonexistent")
    assert result.returncode == 0, result.stderr
    assert "pulumi destroy --yes --skip-preview --stack staging" in result.stdout
    assert "stack rm" not in result.stdout


def test_dry_run_with_remove_stack_prints_both_commands_in_order(project):
    result = run("--stack", "staging", "--root", str(project), "--dry-run", "--remove-stack")
    lines = [x for x in result.stdout.splitlines() if x.startswith("pulumi")]
    assert lines == [
        "pulumi destroy --yes --skip-preview --stack staging",
        "pulumi stack rm --yes --preserve-config --stack staging",
    ]


def test_missing_cli_is_a_clear_error_when_not_a_dry_run(project):
    result = run("--stack", "staging", "--root", str(project), env_path="/nonexistent")
    assert result.returncode == teardown.EXIT_NO_CLI
    assert "pulumi CLI is not on PATH" in result.stderr
    assert "Traceback" not in result.stderr


def test_runs_destroy_then_stack_rm_with_a_fake_cli(project, tmp_path):
    bin_dir, log = tmp_path / "bin", tmp_path / "calls.log"
    fake_cli(bin_dir, "pulumi", log)
    result = run("--stack", "staging", "--root", str(project), "--remove-stack",
                 env_path=f"{bin_dir}:/usr/bin:/bin")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert log.read_text().splitlines() == [
        "destroy --yes --skip-preview --stack staging",
        "stack rm --yes --preserve-config --stack staging",
    ]


def test_a_failed_destroy_stops_before_stack_rm(project, tmp_path):
    bin_dir, log = tmp_path / "bin", tmp_path / "calls.log"
    fake_cli(bin_dir, "pulumi", log, exit_code=7)
    result = run("--stack", "staging", "--root", str(project), "--remove-stack",
                 env_path=f"{bin_dir}:/usr/bin:/bin")  # fmt: skip
    assert result.returncode == 7
    assert len(log.read_text().splitlines()) == 1


def test_repository_stacks_staging_is_disposable_and_prod_is_not():
    teardown.check_disposable("staging", ROOT)
    with pytest.raises(teardown.Refusal):
        teardown.check_disposable("prod", ROOT)


# --- the ephemeral marker is read as the Pulumi CLI reads it (YAML 1.2) ---------------------


@pytest.mark.parametrize("value", ["true", "True", "TRUE", '"true"', "'true'"])
def test_ephemeral_accepts_a_yaml_boolean_true_or_the_string_true(project, value):
    (project / "Pulumi.qa.yaml").write_text(f"config:\n  service:ephemeral: {value}\n")
    teardown.check_disposable("qa", project)


@pytest.mark.parametrize("value", ["yes", "on", "y", "1", '"yes"', '"1"', '"True"', "false", "{}"])
def test_ephemeral_refuses_yaml_1_1_booleans_and_other_truthy_values(project, value):
    """PyYAML's safe_load (YAML 1.1) reads `yes`/`on`/`y` as True; the Pulumi CLI (YAML 1.2)
    reads them as strings, so the program would not treat the stack as ephemeral either."""
    (project / "Pulumi.qa.yaml").write_text(f"config:\n  service:ephemeral: {value}\n")
    with pytest.raises(teardown.Refusal, match="not true"):
        teardown.check_disposable("qa", project)


def test_pyyaml_alone_would_have_accepted_yes():
    assert yaml.safe_load("a: yes")["a"] is True, "the reason teardown reads YAML 1.2"
    assert stackfiles.parse("a: yes", "test")["a"] == "yes"


def test_a_stack_file_that_is_not_yaml_is_refused_with_file_and_line(project):
    (project / "Pulumi.qa.yaml").write_text("config:\n  service:ephemeral: [true\n")
    with pytest.raises(teardown.Refusal, match=r"Pulumi\.qa\.yaml:\d+:\d+: invalid YAML"):
        teardown.check_disposable("qa", project)


# --- teardown, then the deploy workflow: a model of the CLI and the state backend -----------

WORKFLOW = ROOT / ".github" / "workflows" / "deploy.yml"
SHA = "0123456789abcdef0123456789abcdef01234567"
# what GitHub substitutes on a green push to main (the image step is skipped: imageRef "")
EXPRESSIONS = {
    "github.event.workflow_run.head_sha || github.sha": SHA,
    "steps.image.outputs.ref": "",
}


class CliError(Exception):
    pass


class PulumiModel:
    """The Pulumi CLI and a state backend, as far as tearing a stack down and bringing it back
    are concerned. `stacks`: what the backend holds (stack -> resources in its state); `files`:
    the project directory (file name -> text). Behaviours modelled on the real CLI:
    `stack rm` deletes Pulumi.<stack>.yaml unless --preserve-config and refuses a stack that
    still has resources; `stack select` fails for a missing stack unless --create (what
    pulumi/actions' `upsert` does); `up` fails for a missing stack, for required config
    (Pulumi.yaml keys without a default) missing from Pulumi.<stack>.yaml, and, for this
    project, when the stack is not marked ephemeral (the nightly teardown would refuse it)."""

    def __init__(self, files: dict[str, str], stacks: dict[str, set[str]] | None = None):
        self.files = dict(files)
        self.stacks = {k: set(v) for k, v in (stacks or {}).items()}
        self.project = yaml.safe_load(self.files["Pulumi.yaml"])["name"]

    # ---- helpers ------------------------------------------------------------------------
    def _need(self, stack: str) -> None:
        if stack not in self.stacks:
            raise CliError(f"error: no stack named '{stack}' found")

    def stack_config(self, stack: str) -> dict:
        text = self.files.get(f"Pulumi.{stack}.yaml", "")
        data = stackfiles.parse(text, f"Pulumi.{stack}.yaml") or {}
        return dict(data.get("config") or {})

    def _qualify(self, key: str) -> str:
        return key if ":" in key else f"{self.project}:{key}"

    def effective_config(self, stack: str) -> tuple[dict, set[str]]:
        declared = yaml.safe_load(self.files["Pulumi.yaml"]).get("config") or {}
        values, required = {}, set()
        for key, spec in declared.items():
            full = self._qualify(key)
            if isinstance(spec, dict) and not ("default" in spec or "value" in spec):
                required.add(full)
            elif isinstance(spec, dict):
                values[full] = spec.get("value", spec.get("default"))
            else:
                values[full] = spec
        values.update({self._qualify(k): v for k, v in self.stack_config(stack).items()})
        return values, required

    # ---- the commands -------------------------------------------------------------------
    def run(self, cmd: list[str]) -> None:
        assert cmd[0] == "pulumi", cmd
        args = cmd[1:]
        stack = args[args.index("--stack") + 1] if "--stack" in args else args[-1]
        if args[0] == "destroy":
            self._need(stack)
            self.stacks[stack] = set()
        elif args[:2] == ["stack", "rm"]:
            self._need(stack)
            if self.stacks[stack] and "--force" not in args:
                raise CliError(f"error: '{stack}' still has resources; removal rejected")
            del self.stacks[stack]
            if "--preserve-config" not in args:
                self.files.pop(f"Pulumi.{stack}.yaml", None)
        elif args[:2] == ["stack", "select"]:
            if stack not in self.stacks:
                if "--create" not in args:
                    self._need(stack)
                self.stacks[stack] = set()
        elif args[:2] == ["config", "set-all"]:
            self._need(stack)
            data = yaml.safe_load(self.files.get(f"Pulumi.{stack}.yaml", "")) or {}
            config = data.setdefault("config", {})
            for i, arg in enumerate(args):
                if arg == "--plaintext":
                    key, _, value = args[i + 1].partition("=")
                    config[key] = value
            self.files[f"Pulumi.{stack}.yaml"] = yaml.safe_dump(data, sort_keys=False)
        elif args[0] == "up":
            self._need(stack)
            values, required = self.effective_config(stack)
            missing = sorted(k for k in required if values.get(k) in (None, ""))
            if missing:
                raise CliError(f"error: Missing required configuration variable '{missing[0]}'")
            if not teardown.is_true(values.get(f"{self.project}:ephemeral")):
                raise CliError(
                    f"error: {self.project}:ephemeral is not true for '{stack}': "
                    "the stack came back without its marker"
                )
            self.stacks[stack] = {"vpc", "db", "cache", "service"}
        else:
            raise AssertionError(f"the model does not know {cmd}")


def deploy_step(job: str = "staging") -> dict:
    data = yaml.safe_load(WORKFLOW.read_text())
    return next(
        s
        for s in data["jobs"][job]["steps"]
        if s.get("uses", "").startswith("pulumi/actions@") and s["with"].get("command") == "up"
    )


def action_commands(step: dict) -> list[list[str]]:
    """What pulumi/actions runs for a step: select (or create, with upsert) the stack, set the
    config-map, then `up` (with --refresh when refresh is true: v6 semantics)."""
    w = step["with"]
    stack = w["stack-name"]
    create = ["--create"] if w.get("upsert") is True else []
    cmds = [["pulumi", "stack", "select", *create, stack]]
    text = re.sub(
        r"\$\{\{(.*?)\}\}", lambda m: EXPRESSIONS[m.group(1).strip()], w.get("config-map", "")
    )
    config_map = yaml.safe_load(text) or {}
    if config_map:
        pairs = [x for k, v in config_map.items() for x in ("--plaintext", f"{k}={v['value']}")]
        cmds.append(["pulumi", "config", "set-all", "--stack", stack, *pairs])
    up = ["pulumi", "up", "--yes", "--skip-preview", "--stack", stack]
    if w.get("refresh") is True:
        up.append("--refresh")
    return [*cmds, up]


# the defect: teardown removed the stack with its config file, and the deploy did not upsert
OLD_TEARDOWN = [
    ["pulumi", "destroy", "--yes", "--skip-preview", "--stack", "staging"],
    ["pulumi", "stack", "rm", "--yes", "--stack", "staging"],
]
OLD_STEP = {"uses": "pulumi/actions@v6", "with": {"command": "up", "stack-name": "staging",
                                                  "policyPacks": "policy"}}  # fmt: skip


@pytest.fixture
def backend():
    files = {name: (ROOT / name).read_text() for name in ("Pulumi.yaml", "Pulumi.staging.yaml")}
    return PulumiModel(files, {"staging": {"vpc", "db", "cache", "service"}})


def run_all(model: PulumiModel, cmds: list[list[str]]) -> None:
    for cmd in cmds:
        model.run(cmd)


def test_the_workflow_step_translates_to_upsert_config_and_refresh():
    assert action_commands(deploy_step()) == [
        ["pulumi", "stack", "select", "--create", "staging"],
        ["pulumi", "config", "set-all", "--stack", "staging",
         "--plaintext", f"service:imageTag={SHA}", "--plaintext", "service:imageRef="],
        ["pulumi", "up", "--yes", "--skip-preview", "--stack", "staging", "--refresh"],
    ]  # fmt: skip


@pytest.mark.parametrize("remove_stack", [False, True])
def test_teardown_then_the_deploy_workflow_brings_staging_back_with_its_config(
    backend, remove_stack, tmp_path
):
    committed = backend.stack_config("staging")
    for _night in range(2):  # teardown is nightly: it must work again on the re-created stack
        run_all(backend, teardown.commands("staging", remove_stack=remove_stack))
        assert backend.stacks.get("staging", set()) == set()
        assert ("staging" in backend.stacks) is not remove_stack
        assert "Pulumi.staging.yaml" in backend.files, "--preserve-config keeps the file"
        run_all(backend, action_commands(deploy_step()))
        assert backend.stacks["staging"], "staging is deployed again"
        config = backend.stack_config("staging")
        assert {k: config[k] for k in committed} == committed, "committed settings intact"
        # and the next night's teardown accepts the stack again
        for name, text in backend.files.items():
            (tmp_path / name).write_text(text)
        teardown.check_disposable("staging", tmp_path)


def test_the_old_sequence_fails_so_this_test_would_have_caught_the_defect(backend):
    run_all(backend, OLD_TEARDOWN)
    assert "Pulumi.staging.yaml" not in backend.files, "stack rm deleted the committed config"
    with pytest.raises(CliError, match="no stack named 'staging' found"):
        run_all(backend, action_commands(OLD_STEP))


def test_upsert_alone_is_not_enough_without_preserve_config(backend):
    run_all(backend, OLD_TEARDOWN)
    with pytest.raises(CliError, match=r"Missing required configuration|ephemeral is not true"):
        run_all(backend, action_commands(deploy_step()))


def test_preserve_config_alone_is_not_enough_without_upsert(backend):
    run_all(backend, teardown.commands("staging", remove_stack=True))
    with pytest.raises(CliError, match="no stack named 'staging' found"):
        run_all(backend, action_commands(OLD_STEP))


def test_the_model_refuses_to_remove_a_stack_that_still_has_resources(backend):
    with pytest.raises(CliError, match="still has resources"):
        backend.run(["pulumi", "stack", "rm", "--yes", "--preserve-config", "--stack", "staging"])


@pytest.mark.parametrize("stack", ["pr-1", "pr-123", "pr-999999", "organization/service/pr-42"])
def test_review_stacks_are_disposable_without_a_stack_file(project, stack):
    result = run("--stack", stack, "--dry-run", "--remove-stack", "--root", str(project))
    assert result.returncode == 0, result.stderr
    assert f"pulumi destroy --yes --skip-preview --stack {stack}" in result.stdout
    assert f"pulumi stack rm --yes --preserve-config --stack {stack}" in result.stdout


@pytest.mark.parametrize("stack", ["pr-0", "pr-1000000", "pr-abc", "pr-"])
def test_names_that_only_look_like_review_stacks_still_need_the_flag(project, stack):
    result = run("--stack", stack, "--dry-run", "--root", str(project))
    assert result.returncode == 2


def test_the_repository_review_stack_plans_and_tears_down_offline():
    result = run("--stack", "pr-123", "--dry-run")
    assert result.returncode == 0, result.stderr
