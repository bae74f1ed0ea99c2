"""wgan: Wasserstein GANs (Arjovsky et al. 2017; Gulrajani et al. 2017) and the standard GAN.

>>> import wgan
>>> run = wgan.train(data="8gaussians", algorithm="wgan-gp", iterations=1000)   # doctest: +SKIP

The names below, and the modules users call (``wgan.distances.w1``, ``wgan.plots``...), are imported on first use
(PEP 562's module ``__getattr__``): they import torch, which takes about a second, and the ``wgan`` command
(:mod:`wgan.entry`) imports this package before it can catch a Ctrl-C that arrives during that second.
"""

from importlib import import_module

PUBLIC = {"Config": "config", "Interrupted": "errors", "Run": "api", "Stopped": "errors", "WganError": "errors",
          "evaluate_run": "api", "load_run": "api", "make_config": "config", "plot_run": "api", "resume": "api",
          "train": "api"}  # name -> the module that defines it
MODULES = ("distances", "metrics", "plots", "data", "models", "objectives", "experiments")  # wgan.distances.w1...
__all__ = sorted(PUBLIC)


def __getattr__(name: str):
    if name == "__version__":  # the installed package's, as `wgan --version` says it
        from importlib.metadata import PackageNotFoundError, version
        try:
            return version(__name__)
        except PackageNotFoundError:  # run from a source tree on PYTHONPATH, not installed: a PEP 440 local version
            return "0+unknown"
    if name in MODULES:  # imported by their first use, as the names above
        return import_module(f"{__name__}.{name}")  # which sets it on the package
    if name not in PUBLIC:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{PUBLIC[name]}"), name)
    globals()[name] = value  # imported once: later reads find it without this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__) | set(MODULES))
