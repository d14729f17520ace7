"""``python -m infra.teardown``: the safe teardown of a disposable stack (infra/tools/teardown.py).

The command keeps its name (docs, workflows and the Makefile call it); the tool lives in
infra/tools/, apart from the program, which never imports it.
"""

import sys

from infra.tools.teardown import main

if __name__ == "__main__":
    sys.exit(main())
