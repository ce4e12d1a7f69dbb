"""``python -m m3search`` (and ``torchrun -m m3search train ...``): the command line."""

import sys

from .cli import main

sys.exit(main())
