"""The offline plan: config from the stack files, tree and JSON output, secrets redacted."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from infra.config import REPO_ROOT, ConfigError
from infra.tools.plan import load_stack_config, main, plan, render_tree, to_dict
from tests.infra.conftest import TEST_IMAGE_TAG

KEYS = {"type", "name", "parent", "protect", "inputs"}


@pytest.fixture(scope="module")
def prod_plan() -> list[dict]:
    return plan("prod", {"service:imageTag": TEST_IMAGE_TAG})


def test_stack_config_merges_project_defaults_and_the_stack_file():
    config = load_stack_config("staging")
    assert config["service:ephemeral"] is True  # from Pulumi.staging.yaml
    assert config["service:taskCpu"] == 256  # default from Pulumi.yaml
    assert config["aws:region"] == "us-east-1"


def test_unknown_stack_names_the_known_ones():
    with pytest.raises(ConfigError, match=r"no stack file Pulumi\.qa\.yaml; known stacks: .*prod"):
        load_stack_config("qa")


def test_json_entries_have_exactly_the_contract_keys(prod_plan):
    assert prod_plan and all(set(r) == KEYS for r in prod_plan)
    assert all(isinstance(r["protect"], bool) for r in prod_plan)


def test_json_is_stably_sorted_by_type_then_name(prod_plan, prod):
    keys = [(r["type"], r["name"], r["parent"] or "") for r in prod_plan]
    assert keys == sorted(keys)
    # An independent run of the same stack yields the same document.
    again = sorted((to_dict(r) for r in prod.resources), key=lambda r: (r["type"], r["name"]))
    assert json.dumps(again, sort_keys=True) == json.dumps(prod_plan, sort_keys=True)


def test_parent_is_the_component_logical_name(prod_plan):
    by_name = {(r["type"], r["name"]): r for r in prod_plan}
    assert by_name[("aws:rds/instance:Instance", "database-instance")]["parent"] == "database"
    assert by_name[("service:infra:Database", "database")]["parent"] is None
    assert by_name[("aws:rds/instance:Instance", "database-instance")]["protect"] is True


def test_secret_inputs_are_redacted(prod_plan):
    text = json.dumps(prod_plan)
    assert "x" * 40 not in text  # mock random values
    assert "mock-ecr-password" not in text
    versions = [r for r in prod_plan if r["type"].endswith("secretVersion:SecretVersion")]
    assert versions and all(r["inputs"]["secretString"] == "[secret]" for r in versions)
    (redis,) = [r for r in prod_plan if r["name"] == "cache-redis"]
    assert redis["inputs"]["authToken"] == "[secret]"


def test_whole_numbers_are_printed_as_integers(prod_plan):
    (tg,) = [r for r in prod_plan if r["name"] == "web-tg"]
    assert tg["inputs"]["port"] == 8000 and isinstance(tg["inputs"]["port"], int)


def test_tree_nests_children_under_their_component(prod_plan):
    tree = render_tree(prod_plan).splitlines()
    db = tree.index("service:infra:Database  database")
    assert tree[db + 1].startswith(("    aws:", "    random:"))
    assert "    aws:rds/instance:Instance  database-instance  [protected]" in tree


def test_main_prints_json(capsys, monkeypatch):
    monkeypatch.setattr(
        "infra.tools.plan.load_stack_config",
        lambda stack: {**load_stack_config(stack), "service:imageTag": "0123456789ab"},
    )
    assert main(["--stack", "dev", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {r["type"] for r in data} >= {"aws:ecs/service:Service", "docker-build:index:Image"}


def test_main_reports_config_errors_with_exit_code_2(capsys):
    assert main(["--stack", "does-not-exist"]) == 2
    assert "error: no stack file Pulumi.does-not-exist.yaml" in capsys.readouterr().err


def test_cli_prints_the_staging_tree_offline():
    result = subprocess.run(
        [sys.executable, "-m", "infra.plan", "--stack", "staging"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("stack staging: ")
    assert "aws:ecs/service:Service  app-service" in result.stdout
    assert result.stderr == ""


def test_pulumi_yaml_runs_infra_with_the_project_venv():
    import yaml

    project = yaml.safe_load((REPO_ROOT / "Pulumi.yaml").read_text())
    assert project["name"] == "service"
    assert project["main"] == "infra/"
    assert project["runtime"]["name"] == "python"
    assert project["runtime"]["options"]["virtualenv"] == ".venv"


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_every_stack_key_is_declared_in_pulumi_yaml(stack):
    import yaml

    declared = set(yaml.safe_load((REPO_ROOT / "Pulumi.yaml").read_text())["config"])
    stack_keys = yaml.safe_load((REPO_ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    undeclared = [
        k for k in stack_keys if k.startswith("service:") and k.split(":", 1)[1] not in declared
    ]
    assert undeclared == []


def test_pulumi_entry_point_runs_the_program_and_exports_outputs():
    import runpy

    from infra.tools.mocks import run_program

    config = {**load_stack_config("dev"), "service:imageTag": TEST_IMAGE_TAG}
    entry = str(REPO_ROOT / "infra" / "__main__.py")
    run = run_program("dev", config, program=lambda: runpy.run_path(entry) and None)
    assert any(r.type == "aws:ecs/service:Service" for r in run.resources)


# The engine validates Pulumi.yaml's `config:` block before it runs any program (pulumi/pulumi
# sdk/go/common/workspace: project.json schema, Project.Validate, mergeConfig). These mirror its
# rules, so a block the CLI would reject fails here instead of on the first real `pulumi up`.
ENGINE_CONFIG_TYPES = ("string", "integer", "boolean", "array")  # no "object"
ENGINE_DECLARATION_KEYS = {"type", "items", "description", "secret", "default", "value"}


def _engine_accepts(type_name: str, items: dict | None, value: object) -> bool:
    """workspace.ValidateConfigValue."""
    if type_name == "string":
        return isinstance(value, str)
    if type_name == "integer":
        if isinstance(value, bool):
            return False
        if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
            return True
        return isinstance(value, str) and value.lstrip("-").isdigit()
    if type_name == "boolean":
        return isinstance(value, bool) or value in ("true", "false")
    if not isinstance(value, list) or items is None:
        return False
    return all(_engine_accepts(items["type"], items.get("items"), v) for v in value)


def _project_config() -> dict:
    import yaml

    return yaml.safe_load((REPO_ROOT / "Pulumi.yaml").read_text())["config"]


def test_pulumi_yaml_config_declarations_pass_the_engine_schema():
    for key, spec in _project_config().items():
        if not isinstance(spec, dict):
            continue  # shorthand: a plain default value
        assert set(spec) <= ENGINE_DECLARATION_KEYS, key
        assert not ("default" in spec and "value" in spec), key
        if "type" not in spec:
            continue  # untyped (how a map is declared): the engine checks no value
        assert spec["type"] in ENGINE_CONFIG_TYPES, f"{key}: type {spec['type']!r}"
        if spec["type"] == "array":
            assert isinstance(spec.get("items"), dict) and "type" in spec["items"], key
        if "default" in spec:
            assert _engine_accepts(spec["type"], spec.get("items"), spec["default"]), key


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_engine_finds_every_declared_key_and_accepts_the_stack_values(stack):
    """mergeConfig: a project key with neither default nor value must be set by the stack
    ("Stack 'dev' is missing configuration value ..."); typed stack values must match."""
    import yaml

    values = yaml.safe_load((REPO_ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    for key, spec in _project_config().items():
        if not isinstance(spec, dict):
            continue
        full = key if ":" in key else f"service:{key}"
        if "default" not in spec and "value" not in spec:
            assert full in values, f"stack {stack} is missing configuration value {key!r}"
        if "type" in spec and full in values:
            assert _engine_accepts(spec["type"], spec.get("items"), values[full]), full


def test_empty_project_defaults_mean_unset():
    """Optional keys default to "" / {} in Pulumi.yaml; the program reads them as not set."""
    from infra.tools.mocks import run_program

    config = {**load_stack_config("dev"), "service:imageTag": TEST_IMAGE_TAG}
    for key in ("minCount", "maxCount", "rateLimits", "alarms"):
        config.pop(f"service:{key}", None)
    assert config["service:certificateArn"] == "" and config["service:tags"] == {}
    run = run_program("dev", config)
    scaling = run.named("app-scaling").inputs
    assert (scaling["minCapacity"], scaling["maxCapacity"]) == (1, 1)  # = desiredCount
    assert run.named("web-http").inputs["defaultActions"][0]["type"] == "forward"  # no HTTPS
    assert run.find("alarms-email") is None


def test_plan_outside_a_git_checkout_uses_the_placeholder_tag(monkeypatch):
    """imageTag defaults to "" in Pulumi.yaml: empty still means "no tag configured"."""
    import infra.tools.plan

    monkeypatch.setattr(infra.tools.plan, "git_commit", lambda: None)
    resources = infra.tools.plan.plan("dev")
    (image,) = [r for r in resources if r["type"] == "docker-build:index:Image"]
    assert image["inputs"]["tags"][0].endswith(":" + infra.tools.plan.PLAN_IMAGE_TAG)
