"""The names of what a run folder holds: for :mod:`wgan.runs`, which writes it, and for the modules that must
know one when they meet it (:func:`wgan.data.images.list_images` refuses a run folder among the images). Names
alone, so that each imports them without importing the other."""

CONFIG_FILE = "config.toml"
METRICS_FILE = "metrics.jsonl"
LOCK_FILE = ".lock"
METRIC_CARD = "metric_card.json"  # in an image run's folder: what its scores were measured with
DATA_RECORD = "data.json"  # in a run's folder: the fingerprint of the user's data it started on
CURVES, PROGRESS = "curves.png", "progress.gif"  # the run's figures over its whole course
OWN_FILES = (CONFIG_FILE, METRICS_FILE, LOCK_FILE, METRIC_CARD, DATA_RECORD, CURVES, PROGRESS)
OWN_FOLDERS = ("samples", "checkpoints", "tensorboard")  # what the run writes below its folder
