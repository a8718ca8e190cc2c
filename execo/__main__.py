"""``python -m execo``: the ``execo`` command (see :mod:`execo.cli`)."""

import sys

from .cli import main

sys.exit(main())
