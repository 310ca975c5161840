"""``python -m psythemes.cli``: the same as the ``psythemes`` console script."""

import sys

from . import main

sys.exit(main())
