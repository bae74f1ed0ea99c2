"""``python -m wgan`` is the ``wgan`` command."""

import sys

from .cli import main

sys.exit(main())
