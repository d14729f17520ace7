"""The benchmark harness cannot rot: `make test` runs its smoke mode (a few seconds per scenario)
against real uvicorn processes, PostgreSQL and Redis. Nothing here asserts speed."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.report import RATIOS
from bench.scenarios import SCENARIOS

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


@pytest.fixture(scope="module")
def smoke_run(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[subprocess.CompletedProcess[str], Path]:
    output = tmp_path_factory.mktemp("bench") / "results.json"
    finished = subprocess.run(
        [sys.executable, "-m", "bench.run", "--smoke", "--output", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    return finished, output


@pytest.mark.timeout(120)
def test_smoke_run_succeeds_without_unexpected_responses(smoke_run) -> None:  # type: ignore[no-untyped-def]
    finished, _ = smoke_run
    assert finished.returncode == 0, (
        f"bench smoke exited {finished.returncode}\n{finished.stdout}\n{finished.stderr}"
    )


def test_smoke_results_have_the_documented_shape(smoke_run) -> None:  # type: ignore[no-untyped-def]
    finished, output = smoke_run
    assert output.exists(), f"no results file\n{finished.stdout}\n{finished.stderr}"
    document = json.loads(output.read_text())
    assert set(document) == {"scenarios", "ratios", "ratio_spread", "machine"}
    assert set(document["scenarios"]) == {scenario.name for scenario in SCENARIOS}
    assert set(document["ratios"]) == set(RATIOS) == set(document["ratio_spread"])
    for name, row in document["scenarios"].items():
        assert row["requests"] > 0, f"{name} sent no request: {row}"
        assert row["errors"] == 0, f"{name} had unexpected responses: {row}"
    assert document["machine"]["cpu_count"] >= 1
    assert document["machine"]["mode"] == "smoke"
