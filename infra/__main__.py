"""Pulumi entry point (``main: infra/`` in Pulumi.yaml). The program lives in infra/program.py."""

import sys
from pathlib import Path

# Pulumi runs this file with infra/ as the program directory; make the `infra` package importable.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from infra.program import main

main()
