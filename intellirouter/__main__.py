"""``python -m intellirouter``: the same as the ``intellirouter`` command."""

import sys

from intellirouter.cli import main

sys.exit(main())
