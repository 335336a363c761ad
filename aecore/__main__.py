"""`python -m aecore ...`: see aecore/cli.py."""

import sys

from .cli import main

sys.exit(main())
