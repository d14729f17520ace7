"""The test evaluator itself: wildcards, Not* elements, deny precedence, conditions."""

import pytest

from tests.bootstrap.iam_eval import ALLOW, EXPLICIT_DENY, IMPLICIT_DENY, evaluate, matches


def doc(*statements):
    return [{"Version": "2012-10-17", "Statement": list(statements)}]


def allow(action, resource, condition=None):
    s = {"Effect": "Allow", "Action": action, "Resource": resource}
    return s | ({"Condition": condition} if condition else {})


def deny(action, resource, condition=None):
    return allow(action, resource, condition) | {"Effect": "Deny"}


@pytest.mark.parametrize(
    ("glob", "value", "expected"),
    [
        ("s3:Get*", "s3:GetObject", True),
        (
            "arn:aws:s3:::b/.pulumi/stacks/service/dev.*",
            "arn:aws:s3:::b/.pulumi/stacks/service/dev.json",
            True,
        ),
        (
            "arn:aws:s3:::b/.pulumi/stacks/service/dev.*",
            "arn:aws:s3:::b/.pulumi/stacks/service/dev-2.json",
            False,
        ),
        ("arn:aws:iam::1:role/service-staging/*", "arn:aws:iam::1:role/service-staging/a/b", True),
        ("a?c", "abc", True),
        ("a?c", "ac", False),
        ("a.c", "abc", False),  # regex metacharacters are literal
    ],
)
def test_wildcard_matching(glob, value, expected):
    assert matches(glob, value) is expected


def test_actions_match_case_insensitively_resources_do_not():
    assert (
        evaluate(doc(allow("S3:getobject", "arn:aws:s3:::b/k")), "s3:GetObject", "arn:aws:s3:::b/k")
        == ALLOW
    )
    assert (
        evaluate(doc(allow("s3:GetObject", "arn:aws:s3:::b/K")), "s3:GetObject", "arn:aws:s3:::b/k")
        == IMPLICIT_DENY
    )


def test_nothing_allowed_is_an_implicit_deny():
    assert evaluate(doc(allow("s3:GetObject", "*")), "s3:PutObject", "x") == IMPLICIT_DENY


def test_an_explicit_deny_beats_any_allow():
    policies = doc(allow("s3:*", "*"), deny("s3:PutObject", "arn:aws:s3:::b/*"))
    assert evaluate(policies, "s3:PutObject", "arn:aws:s3:::b/k") == EXPLICIT_DENY
    assert evaluate(policies, "s3:GetObject", "arn:aws:s3:::b/k") == ALLOW


def test_not_action_and_not_resource_invert_the_match():
    policies = doc(
        {"Effect": "Deny", "NotAction": "iam:Get*", "NotResource": "arn:aws:iam::1:role/ok/*"},
        allow("iam:*", "*"),
    )
    assert evaluate(policies, "iam:PutRolePolicy", "arn:aws:iam::1:role/other/r") == EXPLICIT_DENY
    assert evaluate(policies, "iam:PutRolePolicy", "arn:aws:iam::1:role/ok/r") == ALLOW
    assert evaluate(policies, "iam:GetRole", "arn:aws:iam::1:role/other/r") == ALLOW


def test_conditions_are_evaluated_against_the_request_context():
    policies = doc(
        allow(
            "iam:PassRole",
            "*",
            {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
        )
    )
    assert (
        evaluate(policies, "iam:PassRole", "r", {"iam:PassedToService": "ecs-tasks.amazonaws.com"})
        == ALLOW
    )
    assert (
        evaluate(policies, "iam:PassRole", "r", {"iam:PassedToService": "ec2.amazonaws.com"})
        == IMPLICIT_DENY
    )
    assert evaluate(policies, "iam:PassRole", "r", {}) == IMPLICIT_DENY


def test_a_missing_key_fails_positive_operators_and_satisfies_negated_ones():
    negated = doc(allow("x:Y", "*"), deny("x:Y", "*", {"StringNotEquals": {"k": "v"}}))
    assert evaluate(negated, "x:Y", "r", {}) == EXPLICIT_DENY
    assert evaluate(negated, "x:Y", "r", {"k": "v"}) == ALLOW
    if_exists = doc(allow("x:Y", "*"), deny("x:Y", "*", {"StringNotEqualsIfExists": {"k": "v"}}))
    assert evaluate(if_exists, "x:Y", "r", {}) == EXPLICIT_DENY
    positive_if_exists = doc(allow("x:Y", "*", {"StringEqualsIfExists": {"k": "v"}}))
    assert evaluate(positive_if_exists, "x:Y", "r", {}) == ALLOW


def test_null_checks_presence():
    policies = doc(
        allow("x:Y", "*"),
        deny("x:Y", "*", {"Null": {"k": "false"}, "StringNotEquals": {"k": "good"}}),
    )
    assert evaluate(policies, "x:Y", "r", {}) == ALLOW  # absent: not denied
    assert evaluate(policies, "x:Y", "r", {"k": "good"}) == ALLOW
    assert evaluate(policies, "x:Y", "r", {"k": "bad"}) == EXPLICIT_DENY


def test_set_qualifiers():
    any_value = doc(
        allow("x:Y", "*"),
        deny("x:Y", "*", {"ForAnyValue:StringEquals": {"aws:TagKeys": ["stack"]}}),
    )
    assert evaluate(any_value, "x:Y", "r", {"aws:TagKeys": ["a", "stack"]}) == EXPLICIT_DENY
    assert evaluate(any_value, "x:Y", "r", {"aws:TagKeys": ["a"]}) == ALLOW
    all_values = doc(allow("x:Y", "*", {"ForAllValues:StringLike": {"aws:TagKeys": ["a*"]}}))
    assert evaluate(all_values, "x:Y", "r", {"aws:TagKeys": ["ab", "ac"]}) == ALLOW
    assert evaluate(all_values, "x:Y", "r", {"aws:TagKeys": ["ab", "b"]}) == IMPLICIT_DENY


def test_arn_and_bool_operators():
    policies = doc(
        allow(
            "x:Y",
            "*",
            {
                "ArnLike": {"aws:PrincipalArn": "arn:aws:iam::1:role/ci/*"},
                "Bool": {"aws:SecureTransport": "true"},
            },
        )
    )
    ok = {"aws:PrincipalArn": "arn:aws:iam::1:role/ci/a", "aws:SecureTransport": "true"}
    assert evaluate(policies, "x:Y", "r", ok) == ALLOW
    assert evaluate(policies, "x:Y", "r", ok | {"aws:SecureTransport": "false"}) == IMPLICIT_DENY


def test_worst_case_counts_conditional_allows_and_ignores_conditional_denies():
    policies = doc(
        allow("s3:GetObject", "*", {"StringEquals": {"k": "v"}}),
        deny("s3:GetObject", "*", {"StringEquals": {"k": "w"}}),
    )
    assert evaluate(policies, "s3:GetObject", "r") == ALLOW
    assert evaluate(policies, "s3:GetObject", "r", {"k": "w"}) == EXPLICIT_DENY


def test_unsupported_operators_and_variables_raise():
    with pytest.raises(ValueError, match="unsupported condition operator"):
        evaluate(doc(allow("x:Y", "*", {"DateGreaterThan": {"k": "1"}})), "x:Y", "r", {"k": "2"})
    with pytest.raises(ValueError, match="policy variables"):
        evaluate(doc(allow("x:Y", "arn:${aws:username}")), "x:Y", "r")
