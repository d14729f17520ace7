"""``python -m infra.drift``: the drift report (infra/tools/drift.py).

The command keeps its name (docs, workflows and the Makefile call it); the tool lives in
infra/tools/, apart from the program, which never imports it.
"""

import sys

from infra.tools.drift import main

if __name__ == "__main__":
    sys.exit(main())
