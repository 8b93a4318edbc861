"""``python -m botbill``: the same as the ``botbill`` command."""

import sys

from botbill.cli import main

sys.exit(main())
