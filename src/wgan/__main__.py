"""``python -m wgan`` is the ``wgan`` command; torchrun starts each rank of a run this way."""

from .entry import main

main()
