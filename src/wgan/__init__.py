"""wgan: Wasserstein GANs (Arjovsky et al. 2017; Gulrajani et al. 2017) and the standard GAN.

>>> import wgan
>>> run = wgan.train(data="8gaussians", algorithm="wgan-gp", iterations=1000)   # doctest: +SKIP
"""

from .api import Run, evaluate_run, load_run, resume, train
from .config import Config, make_config
from .errors import WganError

__all__ = ["Config", "Run", "WganError", "evaluate_run", "load_run", "make_config", "resume", "train"]
