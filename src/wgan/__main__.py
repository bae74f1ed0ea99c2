"""``python -m wgan`` is the ``wgan`` command; torchrun starts each rank of a run this way."""

from .cli import main
from .distributed import exit_process

exit_process(main())
