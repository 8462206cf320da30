"""Entry point of ``python -m poller``; see poller.cli."""

import sys

from poller.cli import main

sys.exit(main())
