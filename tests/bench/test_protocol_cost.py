"""`python -m bench.protocol_cost` cannot rot: two short rounds; nothing about speed."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_protocol_cost_runs_both_protocols() -> None:
    finished = subprocess.run(
        [sys.executable, "-m", "bench.protocol_cost", "--rounds", "2", "--requests", "200"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert "httptools (uvicorn's)" in finished.stdout, finished.stdout
    assert "BoundedHttpToolsProtocol" in finished.stdout, finished.stdout
