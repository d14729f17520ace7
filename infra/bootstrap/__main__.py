"""Pulumi entry point of the account bootstrap (``main: .`` in infra/bootstrap/Pulumi.yaml)."""

import sys
from pathlib import Path

# Pulumi runs this directory as the program; make the repository's `infra` package importable.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from infra.bootstrap.program import main

main()
