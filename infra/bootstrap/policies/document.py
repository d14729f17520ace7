"""IAM policy documents and their statements, as plain dicts."""

from __future__ import annotations

VERSION = "2012-10-17"


def document(*statements: dict) -> dict:
    return {"Version": VERSION, "Statement": list(statements)}


def allow(sid: str, actions, resources, condition: dict | None = None) -> dict:
    statement = {"Sid": sid, "Effect": "Allow", "Action": sorted(actions), "Resource": resources}
    if condition:
        statement["Condition"] = condition
    return statement


def deny(sid: str, actions, resources, condition: dict | None = None) -> dict:
    statement = allow(sid, actions, resources, condition)
    statement["Effect"] = "Deny"
    return statement
