"""`python -m infra.drift report`: recorded `pulumi preview --refresh --json` digests."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.tools import drift

FIXTURES = Path(__file__).parent / "fixtures" / "drift"


def report(name: str) -> tuple[str, int]:
    return drift.report(FIXTURES / f"{name}.json", stack="staging")


def test_clean_preview_exits_0_and_says_so():
    text, code = report("clean")
    assert code == 0
    assert "No drift" in text


def test_one_changed_property_names_the_resource_type_urn_and_values():
    text, code = report("changed")
    assert code == 1
    assert "`app-logs` (aws:cloudwatch/logGroup:LogGroup)" in text
    assert "urn:pulumi:staging::service::service:infra:Service$aws:cloudwatch/logGroup" in text
    assert "| `retentionInDays` | update | `30` | `7` |" in text
    assert '| `tags.owner` | delete | `"someone"` | `(none)` |' in text


def test_a_deleted_resource_is_reported_as_missing():
    text, code = report("deleted")
    assert code == 1
    assert "`worker-dlq` (aws:sqs/queue:Queue): missing (deleted outside Pulumi)" in text


def test_a_replacement_is_one_entry_with_its_replace_reason():
    resources, _ = drift.parse(
        __import__("json").loads((FIXTURES / "replacement.json").read_text())
    )
    assert [(r.name, r.op) for r in resources] == [("network-private-0", "replace")]
    text, code = report("replacement")
    assert code == 1
    assert '| `cidrBlock` | update-replace | `"10.0.144.0/20"` | `"10.0.128.0/20"` |' in text


def test_secret_values_never_print():
    text, code = report("secrets")
    assert code == 1
    assert "| `secretString` | update | `[secret]` | `[secret]` |" in text
    assert "rds!db-" not in text, "an additionalSecretOutputs property must print as [secret]"
    assert "| `backupRetentionPeriod` | update | `1` | `7` |" in text


def test_a_change_summary_alone_counts_as_drift():
    resources, summary = drift.parse({"steps": [], "changeSummary": {"same": 3, "update": 1}})
    assert drift.is_drifted(resources, summary)


def test_a_serialized_secret_object_prints_as_secret():
    assert drift.show(
        {drift.SECRET_SIG: "1b47061264138c4ac30d75fd1eb44270", "ciphertext": "x"}
    ) == ("[secret]")


def test_paths_with_indexes_and_quoted_keys():
    assert drift.split_path('tags["a.b"].c[2]') == ["tags", "a.b", "c", 2]


@pytest.mark.parametrize("content", ["not json", "[]", '{"steps": [{"op": "update"}]}'])
def test_cli_exits_2_on_a_file_that_is_not_a_preview(tmp_path, content, capsys):
    path = tmp_path / "preview.json"
    path.write_text(content)
    assert drift.main(["report", str(path)]) == 2
    assert "error:" in capsys.readouterr().err


def test_cli_prints_markdown_and_exits_1_on_drift(capsys):
    assert drift.main(["report", str(FIXTURES / "changed.json"), "--stack", "staging"]) == 1
    assert capsys.readouterr().out.startswith("## Drift report: stack `staging`")
