"""`make bootstrap-plan` (python -m infra.bootstrap.plan) and the bootstrap project's files."""

import json
import re
from pathlib import Path

from infra import stackfiles
from infra.bootstrap.config import BOOTSTRAP_DIR
from infra.bootstrap.plan import main

ROOT = Path(__file__).resolve().parents[2]


def test_plan_prints_the_tree_every_policy_and_the_gh_lines(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    assert out.startswith("bootstrap stack account: ")
    assert "aws:s3/bucket:Bucket  state-bucket  [protected]" in out
    for title in ("github-preview-policy", "github-boundary", "secrets-prod", "state-policy"):
        assert "# aws:" in out and title in out
    assert "gh variable set AWS_DEPLOY_PROD_ROLE_ARN" in out


def test_plan_json_has_resources_policies_and_outputs(capsys):
    assert main(["--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert set(payload) == {"resources", "policies", "outputs"}
    assert "aws:iam/role:Role github-deploy-prod" in payload["policies"]


def test_plan_reports_a_config_error_and_exits_2(capsys):
    assert main(["--config", "githubOwner=not_valid"]) == 2
    assert "service-bootstrap:githubOwner in stack 'account'" in capsys.readouterr().err


def test_the_project_file_runs_this_directory_with_the_repository_venv():
    project = stackfiles.load(BOOTSTRAP_DIR / "Pulumi.yaml")
    assert project["name"] == "service-bootstrap"
    assert project["main"] == "."
    assert (BOOTSTRAP_DIR / "__main__.py").is_file()
    # the engine resolves runtime.options.virtualenv relative to the Pulumi.yaml directory
    venv = (BOOTSTRAP_DIR / project["runtime"]["options"]["virtualenv"]).resolve()
    assert venv == (ROOT / ".venv").resolve()


def test_make_targets_exist_and_bootstrap_keeps_its_state_local():
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^bootstrap-plan: .*\n\t\$\(PY\) -m infra\.bootstrap\.plan", makefile, re.M)
    recipe = makefile.split("\nbootstrap:", 1)[1].split("\n\n", 1)[0]
    assert "PULUMI_BACKEND_URL=file://" in recipe
    assert "cd infra/bootstrap" in recipe and "pulumi up" in recipe
    assert "githubVariables" in recipe
