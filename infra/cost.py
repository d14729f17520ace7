"""``python -m infra.cost``: the monthly cost estimate (infra/tools/cost/cli.py).

The command keeps its name (docs, workflows and the Makefile call it); the tool lives in
infra/tools/, apart from the program, which never imports it.
"""

import sys

from infra.tools.cost.cli import main

if __name__ == "__main__":
    sys.exit(main())
