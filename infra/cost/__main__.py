"""``python -m infra.cost``. The CLI itself lives in :mod:`infra.cost.cli`: the package imports
it for ``cost.main``, and a package that imports its own ``__main__`` makes runpy warn."""

import sys

from infra.cost.cli import main

if __name__ == "__main__":
    sys.exit(main())
