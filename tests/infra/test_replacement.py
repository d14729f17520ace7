"""The replace-on-change table against the provider SDKs installed: every input it names exists
on its resource type, and every type the stacks create is accounted for."""

from __future__ import annotations

import importlib

import pytest

from infra.tools.replacement import ALL_INPUTS, REPLACE_ON_CHANGE, UPDATED_IN_PLACE
from tests.infra.conftest import STACKS, run_stack

SDKS = {"aws": "pulumi_aws", "random": "pulumi_random"}


def provider_inputs(token: str) -> set[str]:
    """The input names (as the engine spells them) of a resource type, from the Args class in
    the resource's own SDK module (``aws:s3/bucketPolicy:BucketPolicy`` ->
    ``pulumi_aws.s3.bucket_policy.BucketPolicyArgs``; the SDK names it ``<Type>InitArgs`` where
    a nested input type already has the name ``<Type>Args``)."""
    package, module_path, class_name = token.split(":")
    module = module_path.split("/")[0]
    sdk = importlib.import_module(SDKS[package])
    namespace = sdk if module == "index" else getattr(sdk, module)
    resource = getattr(namespace, class_name)
    home = importlib.import_module(resource.__module__)
    args = getattr(home, f"{class_name}InitArgs", None) or getattr(home, f"{class_name}Args")
    # A getter carries the engine's name when it differs from the Python one (``cidr_block``
    # -> ``cidrBlock``); a one-word input (``bucket``) has the same name in both.
    return {
        getattr(prop.fget, "_pulumi_name", attr)
        for attr, prop in vars(args).items()
        if isinstance(prop, property)
    }


@pytest.mark.parametrize("token", sorted(REPLACE_ON_CHANGE))
def test_every_replacing_input_is_an_input_of_its_type(token):
    named = {key.lstrip("!") for key in REPLACE_ON_CHANGE[token] if key != ALL_INPUTS}
    unknown = named - provider_inputs(token)
    assert not unknown, f"{token}: not inputs of the provider's resource: {sorted(unknown)}"


def test_every_type_the_stacks_create_is_in_the_table_or_updated_in_place():
    created = {
        r.type
        for stack in STACKS
        for r in run_stack(stack).resources
        if r.custom and not r.type.startswith("pulumi:providers:")
    }
    missing = created - set(REPLACE_ON_CHANGE) - set(UPDATED_IN_PLACE)
    assert not missing, f"add to infra/tools/replacement.py: {sorted(missing)}"
    assert all(reason.strip() for reason in UPDATED_IN_PLACE.values())
