"""``python -m infra.plandiff``: the offline plan diff (infra/tools/plandiff.py).

The command keeps its name (docs, workflows and the Makefile call it); the tool lives in
infra/tools/, apart from the program, which never imports it.
"""

import sys

from infra.tools.plandiff import main

if __name__ == "__main__":
    sys.exit(main())
