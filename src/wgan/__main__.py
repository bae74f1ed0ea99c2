"""``python -m wgan`` is the ``wgan`` command; torchrun starts each rank of a run this way."""

import sys

from . import distributed
from .cli import main

status = main()
if distributed.world_size_from_environment() > 1:
    distributed.leave(status)  # not through the interpreter's teardown, where gloo may abort a finished rank
sys.exit(status)
