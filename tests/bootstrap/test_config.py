"""Bootstrap config: validated like the main program's, errors name key, stack and expectation."""

import pytest

from infra.bootstrap.config import BOOTSTRAP_DIR, PROJECT
from infra.bootstrap.plan import run
from infra.config import ConfigError
from infra.tools.mocks import run_program
from infra.tools.plan import load_stack_config


def fails(pattern, **overrides):
    config = {(k if ":" in k else f"{PROJECT}:{k}"): v for k, v in overrides.items()}
    with pytest.raises(ConfigError, match=pattern):
        run("account", config)


@pytest.mark.parametrize("owner", ["-acme", "acme-", "ac--me", "acme_corp", "a" * 40, "acmé"])
def test_github_owner_follows_githubs_rules(owner):
    fails(
        r"service-bootstrap:githubOwner in stack 'account': expected a GitHub user",
        githubOwner=owner,
    )


@pytest.mark.parametrize("owner", ["acme", "Acme-Corp", "a1", "a" * 39])
def test_valid_github_owners_pass(owner):
    assert run("account", {f"{PROJECT}:githubOwner": owner}).outputs


@pytest.mark.parametrize("repo", ["..", "my repo", "a/b", "r" * 101])
def test_github_repository_follows_githubs_rules(repo):
    fails(r"service-bootstrap:githubRepository in stack 'account'", githubRepository=repo)


def test_region_is_checked():
    fails(r"aws:region in stack 'account': expected an AWS region", **{"aws:region": "useast1"})


def test_account_id_is_twelve_digits():
    fails(r"accountId in stack 'account': expected a 12-digit", accountId="12345")


def test_oidc_provider_arn_must_be_githubs_in_this_account():
    fails(
        r"existingOidcProviderArn in stack 'account': expected the ARN",
        existingOidcProviderArn="arn:aws:iam::123456789012:oidc-provider/example.com",
    )
    fails(
        r"existingOidcProviderArn in stack 'account': expected a provider in account 123456789012",
        existingOidcProviderArn="arn:aws:iam::210987654321:oidc-provider/"
        "token.actions.githubusercontent.com",
    )


def test_operators_must_be_iam_principals_of_this_account():
    fails(r"operatorArns in stack 'account': expected a non-empty list", operatorArns=[])
    fails(
        r"operatorArns in stack 'account': expected IAM role or user ARNs of account",
        operatorArns=["arn:aws:iam::210987654321:role/Admin"],
    )


def test_stack_names_follow_the_main_programs_prefix_rule():
    fails(
        r"prodStack in stack 'account': expected a stack name of the main project", prodStack="Prod"
    )
    fails(
        r"stagingStack in stack 'account': expected a stack name other than 'ci'", stagingStack="ci"
    )
    fails(
        r"prodStack in stack 'account': expected dev, staging and prod stacks with distinct",
        prodStack="staging",
    )
    for key in ("devStack", "stagingStack", "prodStack"):
        # a named stack inside the review stacks' wildcard would be the review role's to manage
        fails(
            rf"{key} in stack 'account': expected a stack name not matching 'pr-\*'",
            **{key: "pr-7"},
        )


def test_unknown_keys_are_refused_with_a_suggestion():
    fails(
        r"service-bootstrap:githubOwnr in stack 'account': unknown key "
        r"\(did you mean 'githubOwner'\?\)",
        githubOwnr="x",
    )


def test_the_placeholder_account_is_refused_outside_the_offline_plan():
    from infra.bootstrap.program import main

    config = load_stack_config("account", root=BOOTSTRAP_DIR)
    with pytest.raises(
        ConfigError, match=r"accountId in stack 'account': the committed placeholder"
    ):
        run_program("account", config, program=lambda: main(offline=False), project=PROJECT)
