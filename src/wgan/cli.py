"""Command line: ``wgan train``, ``sample``, ``eval``, ``experiment``, ``play`` and ``watch``. Parsing and messages
only; the work is in api (and in outputs for the files ``wgan sample`` writes).

User errors print one line (``wgan: error: ...``) and exit with status 2, without a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

import wgan
from . import api, distributed, launcher, outputs, signals
from .checks import check_torch_seed
from .config import FIELDS, check_every_setting_counts, default_text, field_type, load_toml
from .entry import INTERRUPTED_WHILE_STARTING
from .errors import FORBIDDEN, FULL, IN_THE_WAY, Stopped, WganError, output_refused, refused
from .exits import EXIT_BROKEN_PIPE, EXIT_INTERRUPTED, EXIT_LOST_PEER, EXIT_STOPPED, EXIT_USER_ERROR
from .experiment_command import EXPERIMENT_RUNS, run_experiments
from .experiments import EXPERIMENTS, IMAGE_EXPERIMENTS, SUMMARIES
from .experiments.image_runs import PRESET_MINUTES
from .resume_rules import DECAY_CHOICES, RESUMABLE
from .runs import CURVES, RunFolder, atomic_write, refuse_the_runs_own

MEMORY_HINTS = {  # what to lower when a command runs out of memory
    "train": "lower --batch-size, --eval-samples or the model's --width",
    "sample": "lower --n", "eval": "lower --samples", "experiment": "close other programs, or run it with --quick",
    "play": "close other programs", "watch": "close other programs",
}
PROCESSES_PER_CORE = 4  # --nproc's bound on a machine without as many GPUs (100,000 processes hung it)


class HelpFormatter(argparse.HelpFormatter):
    """--help wrapped at spaces only: names such as mode-collapse or wgan-gp stay whole on one line (argparse's
    own formatter also breaks after hyphens)."""

    def _split_lines(self, text: str, width: int) -> list[str]:
        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        return textwrap.fill(" ".join(text.split()), width, initial_indent=indent, subsequent_indent=indent,
                             break_on_hyphens=False)


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, like every other user error of the CLI, and whose help
    keeps hyphenated names whole (:class:`HelpFormatter`)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, formatter_class=kwargs.pop("formatter_class", HelpFormatter), **kwargs)

    def error(self, message: str):
        distributed.report(f"{self.prog}: error: {message} (see {self.prog} --help)")  # once for all ranks
        self.exit(EXIT_USER_ERROR)

    def _print_message(self, message: str, file=None):
        if distributed.prints_errors():  # under plain torchrun, rank 0 alone prints --help
            super()._print_message(message, file)


def _add_config_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("settings (also accepted as keys of --config FILE.toml)")
    for name, field in FIELDS.items():
        flag = _flag(name)
        default = default_text(name)
        text = (field.metadata["help"] + (f"; {default}" if default else "")).replace("%", "%%")
        kind = field_type(name)
        if kind is bool:
            group.add_argument(flag, dest=name, action=argparse.BooleanOptionalAction, default=None, help=text)
        else:
            group.add_argument(flag, dest=name, type=kind, default=None, metavar=name.upper(), help=text)


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    """Which run, checkpoint, generator and device sample and eval read."""
    parser.add_argument("--run", required=True, metavar="RUN_DIR", help="a run folder made by wgan train")
    parser.add_argument("--checkpoint", default="best", choices=("best", "latest"),
                        help="best (the lowest FD for labelled images, else the lowest exact W1; of the moving "
                        "average when the run kept one) or latest; default: best")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N; default: cpu")
    parser.add_argument("--ema", action=argparse.BooleanOptionalAction, default=None,
                        help="use the moving average of the generator's weights (the default when the run kept one: "
                        "--ema-decay); --no-ema: the trained generator itself")


def build_parser() -> Parser:
    parser = Parser(prog="wgan", description="Train and measure WGAN, WGAN-GP and standard GANs "
                    "(Arjovsky et al. 2017; Gulrajani et al. 2017).")
    parser.add_argument("--version", action="version", version=f"wgan {wgan.__version__} (torch {torch.__version__})")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=Parser)

    train = commands.add_parser("train", help="train a model (default: WGAN-GP on 8gaussians)",
                                description="Train a GAN/WGAN. Settings come from the defaults, then --config, "
                                "then flags. Writes a run folder: config.toml, metrics.jsonl, TensorBoard events, "
                                "samples/*.png, curves.png and checkpoints/.")
    train.add_argument("--config", metavar="FILE.toml", help="read settings from a TOML file of key = value lines")
    train.add_argument("--resume", metavar="RUN_DIR", help="continue a run folder from its latest checkpoint "
                       "(bit-exact); of its settings only --iterations, --max-minutes, --eval-every and "
                       "--device (a GPU run continues on the CPU) may change; other flags are accepted where they "
                       "equal the run's")
    train.add_argument("--decay", choices=DECAY_CHOICES, default=None,
                       help="with --resume and a new --iterations, on a run whose learning rate decays linearly to "
                       "0 at its last iteration: restart the decay from the resumed iteration to the new end, or "
                       "keep its end where it was (the rate then stays 0); a line says which; default: restart "
                       "(refused where the run does not decay or its end does not move)")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.add_argument("--nproc", type=int, default=1, metavar="N",
                       help="train on N processes of this machine, started by torchrun's API (the same as "
                       "`torchrun --standalone --nproc_per_node N -m wgan train ...`): one per GPU, or a few on a "
                       "many-core CPU; --batch-size stays the global batch, split evenly; default: 1")
    _add_config_options(train)

    sample = commands.add_parser("sample", help="draw samples from a trained run: an array, images or a scatter",
                                 description="Draw samples from a trained run. The form of --out says what is "
                                 "written: FILE.npy the (n, ...) array (points as the data's columns; images as "
                                 "the generator makes them, (n, C, H, W) floats in [-1, 1]: (x + 1) * 127.5 gives "
                                 "0-255 pixels, and (x + 1) / 2 the [0, 1] floats that --data reads); for an image "
                                 "run, FILE.png one grid of the n images at their own "
                                 "resolution, DIR/ one PNG per image (000000.png, ...), "
                                 "--interpolate K FILE.png n rows of K images along a spherical path between two "
                                 "noise vectors; for a 2-D point run, FILE.png a scatter of the samples beside as "
                                 "many points of the data, for a 1-D one their histograms.")
    _add_run_options(sample)
    sample.add_argument("--n", type=int, required=True,
                        help="number of samples (with --interpolate: number of rows, each between two noise vectors)")
    sample.add_argument("--out", required=True, metavar="OUT",
                        help="FILE.npy (the array), FILE.png (a grid of images, an interpolation strip, a scatter "
                        "of points (their first two coordinates) or histograms of 1-D ones) or DIR/ (a new or empty "
                        "folder: one PNG per image)")
    sample.add_argument("--interpolate", type=int, default=None, metavar="K",
                        help="image runs: write n rows of K images (ends included) along a spherical interpolation "
                        "(slerp) between two noise vectors drawn from --seed, to --out FILE.png")
    sample.add_argument("--seed", type=int, default=0,
                        help="noise seed, 0 to 2**32 - 1 (drawn on the CPU: the same samples on any device); "
                        "default: 0")

    evaluate = commands.add_parser("eval", help="evaluate a trained run: W estimate, exact W1, modes",
                                   description="Evaluate a checkpoint of a trained run: the critic's estimate, "
                                   "exact W1 (of points; pixel-space distances of images), the modes covered (the "
                                   "toy mixtures) or the classifier's scores (labelled images). Prints them as "
                                   "JSON and writes them to RUN_DIR/eval_CHECKPOINT.json "
                                   "(eval_best.json or eval_latest.json), replacing the one an earlier eval of that "
                                   "checkpoint wrote; the run's checkpoints and logs are only read. The samples are "
                                   "drawn as training's evaluations draw them, so that the scores are those it logged "
                                   "for that checkpoint, unless --seed draws others.")
    _add_run_options(evaluate)
    evaluate.add_argument("--samples", type=int, default=None,
                          help="real and generated samples; default: the run's eval_samples")
    evaluate.add_argument("--seed", type=int, default=None,
                          help="draw the samples from this seed's stream; default: the run's evaluation stream (its "
                          "seed + 1), which gives the scores training logged for the checkpoint (on the kind of "
                          "device it trained on: a GPU draws other numbers than the CPU)")
    plot = commands.add_parser("plot", help="draw a run's curves.png and progress.gif again from what it logged",
                               description="Draw a run's figures over its whole course from what it logged, as "
                               "the run draws them when it ends: curves.png (the critic's estimate, the exact W1 "
                               "and the image scores against iterations) from metrics.jsonl, and progress.gif "
                               "from the evaluation figures in samples/ where there are any. Each replaces the "
                               "one in RUN_DIR; the checkpoints, logs and samples/ are only read. For a run "
                               "trained with --no-figures (curves.png alone), one stopped as its last figures "
                               "were being drawn, or one whose figures were deleted.")
    plot.add_argument("run", metavar="RUN_DIR", help="the run folder (made by wgan train)")
    experiment = commands.add_parser("experiment", help="reproduce a claim of the WGAN papers: figure + numbers",
                                     description="Run one of the papers' experiments (or all) and write figure.png, "
                                     "results.json and README.md per experiment, and the same page as OUT/NAME.md "
                                     "(the paper's claim, the figure, claim / measured / holds?, the command); "
                                     "'all' also writes report.md and report.html, which each later experiment "
                                     "run into OUT keeps current. A run replaces the pages and numbers it finds in "
                                     "OUT/NAME, except a --quick run full-size ones (it is refused). Claims "
                                     "measured by hand "
                                     "(OUT/NAME/claims-by-hand.json) and notes (OUT/NAME/notes.md) are read, "
                                     "shown on the pages and the report, and never written.")
    experiment.add_argument("name", metavar="NAME", help="one of: " + "; ".join(
        f"{name} ({SUMMARIES[name]})" for name in EXPERIMENTS) + "; or all")
    experiment.add_argument("--quick", action="store_true", help="the small size the tests use: a smoke test, "
                            "too short for the papers' claims (5-50 s each on an idle 2-core CPU)")
    experiment.add_argument("--out", default="experiments", help="output folder; default: experiments")
    experiment.add_argument("--seed", type=int, default=0, help="random seed, 0 to 2**32 - 1; default: 0")
    experiment.add_argument("--data-dir", default=None, metavar="MNIST_DIR",
                            help="folder of the MNIST IDX files: the image experiments "
                            f"({', '.join(IMAGE_EXPERIMENTS)}) then train the paper's MNIST presets at the full "
                            "size; default: none, they train on the built-in 8x8 digits")
    experiment.add_argument("--runs", default=EXPERIMENT_RUNS, metavar="DIR",
                            help="where the MNIST runs are kept, and read back instead of trained again when "
                            "present (benchmarks/image_quality.py keeps its runs in benchmarks/runs/images); "
                            f"default: {EXPERIMENT_RUNS}")
    experiment.add_argument("--minutes", type=float, default=PRESET_MINUTES,
                            help="training time of each MNIST run (with --data-dir), on this machine; a longer run "
                            f"found in --runs is read up to it; default: {PRESET_MINUTES:g}")

    play = commands.add_parser("play", help="train GAN, WGAN and WGAN-GP on the toy sets live in the browser",
                               description="Start a local web server and print the address to open. The page "
                               "trains panels side by side with the same seed (the project's own trainer, on this "
                               "machine): samples over the critic's value landscape, the critic's estimate beside "
                               "the exact W1, modes covered; change data set, algorithm, n_critic, learning rate, "
                               "clip c or penalty weight, batch size and width, and start, pause, step or reset.")
    _add_server_options(play)
    play.add_argument("--device", default="cpu", help="where panels train: auto, cpu or cuda[:N]; default: cpu (the "
                      "toy networks are small: a GPU only pays for large batches)")
    play.add_argument("--threads", type=int, default=None, metavar="N",
                      help="CPU threads for training (torch.set_num_threads); default: torch's own choice")
    watch = commands.add_parser("watch", help="follow a run folder in the browser while `wgan train` writes it",
                                description="Start a local web server showing a run folder that a `wgan train` "
                                "elsewhere is writing: the critic's estimate and the evaluations as they are "
                                "logged, and the newest sample figure. On a remote machine, forward the port "
                                "(ssh -L 8000:localhost:8000 HOST) and open the address on yours.")
    watch.add_argument("run", metavar="RUN_DIR", help="the run folder (made by wgan train)")
    _add_server_options(watch)
    return parser


def _add_server_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on; default: 127.0.0.1 (this machine only; 0.0.0.0 opens the "
                        "page to the network, without any password)")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on (0: any free one); default: 8000")


def _play(args: argparse.Namespace) -> None:
    from .play import server, settings, stage  # the web stack loads only for these commands

    if args.threads is not None:
        cores = os.cpu_count() or 1
        if not 1 <= args.threads <= cores:  # 100,000 threads left the server answering every request with 500
            raise WganError(f"--threads must be from 1 to this machine's {cores} cores, got {args.threads}: leave it "
                            "out for torch's default")
        torch.set_num_threads(args.threads)
    device = str(distributed.pick_device(settings.panel_config({}, args.device).device, distributed.World()))
    try:
        server.serve(server.play_app(device), server.listen(args.host, args.port), "play")
    except KeyboardInterrupt:
        if not stage.stepping():
            raise
        # a panel is in the middle of a step that torch cannot cut short, and the interpreter's teardown would
        # abort in it ("terminate called without an active exception"): end without the teardown
        print(f"\n{_interrupted(args, None)}", file=sys.stderr, flush=True)
        sys.stdout.flush()
        os._exit(EXIT_INTERRUPTED)


def _watch(args: argparse.Namespace) -> None:
    from .play import server

    server.serve(server.watch_app(args.run), server.listen(args.host, args.port), "watch")


def _launch(args: argparse.Namespace, argv: list[str]) -> int:
    """``wgan train --nproc N``: check the settings here, then start N ranks of the same command."""
    if args.nproc < 1:
        raise WganError(f"--nproc must be 1 or more, got {args.nproc}")
    cores = os.cpu_count() or 1
    most = max(PROCESSES_PER_CORE * cores, torch.cuda.device_count())
    if args.nproc > most:
        raise WganError(f"--nproc {args.nproc} is more than {PROCESSES_PER_CORE} processes for each of this machine's "
                        f"{cores} cores: they would wait on each other; use at most {most}")
    if distributed.world_size_from_environment() > 1:
        raise WganError(f"the environment's WORLD_SIZE is {os.environ['WORLD_SIZE']}, as torchrun sets it in each "
                        "process it starts: under torchrun leave --nproc out (its --nproc_per_node says how many "
                        "processes), or else unset WORLD_SIZE")
    settings = {name: getattr(args, name) for name in FIELDS}
    if args.resume:
        _check_resume_flags(args)
        batch_size = RunFolder.open(args.resume).config().batch_size
    else:
        batch_size = api.make_config(args.config, **settings).batch_size
    distributed.check_batch(batch_size, args.nproc, kept=bool(args.resume), most=most)
    status, message = launcher.launch(args.nproc, _without_nproc(argv))
    if message:
        print(f"wgan: {message}", file=sys.stderr)
    return status


def _without_nproc(argv: list[str]) -> list[str]:
    """``argv`` less its ``--nproc N`` (or ``--nproc=N``, or an abbreviation such as ``--npr N``): the ranks'
    command line. torchrun's own parser would take ``--nproc`` for an ambiguous ``--nproc-per-node``."""
    kept, skip = [], False
    for word in argv:
        name = word.split("=", 1)[0]
        if skip:
            skip = False
        elif len(name) >= 4 and "--nproc".startswith(name):
            skip = "=" not in word
        else:
            kept.append(word)
    return kept


def _check_resume_flags(args: argparse.Namespace) -> None:
    """A resume's other settings are the run's (its folder's config.toml): --config is refused, and flags that
    differ from the run's settings are refused by the resume itself."""
    if args.config is not None:
        allowed = ", ".join(map(_flag, RESUMABLE[:-1])) + f" and {_flag(RESUMABLE[-1])}"
        raise WganError(f"--resume continues a run with its saved settings; only {allowed} may change, not "
                        "--config")


def _flag(name: str) -> str:
    """The command-line flag of the setting ``name``: ``--max-minutes`` for ``max_minutes``."""
    return "--" + name.replace("_", "-")


def _train(args: argparse.Namespace) -> None:
    settings = {name: getattr(args, name) for name in FIELDS}
    if args.resume is not None:
        _check_resume_flags(args)
        with signals.not_handed_on():  # this process ends once the run returns: one that finished exits 0
            run = api.resume(args.resume, progress=not args.quiet, decay=args.decay,
                             **{name: value for name, value in settings.items() if value is not None})
    else:
        if args.decay is not None:
            raise WganError(f"--decay {args.decay} has no effect on a new run: it says what a resume does with a "
                            "linear decay's end; use it with --resume")
        config = _naming_the_file(args.config, settings, lambda: api.make_config(args.config, **settings))
        _naming_the_file(args.config, settings, lambda: check_every_setting_counts(config))
        with signals.not_handed_on():
            run = api.train(config, progress=not args.quiet)
    if run.path is None:  # a rank that does not write
        return
    last = {key: value for row in run.history for key, value in row.items() if key.startswith("eval/")}
    budget = (f" (stopped by --max-minutes {run.config.max_minutes:g} at iteration {run.iteration} of "
              f"{run.config.iterations})" if run.iteration < run.config.iterations else "")
    print(f"done: {run.path}{budget} | " + ", ".join(f"{key[5:]} {value:.4g}" for key, value in last.items()))
    if run.config.figures:
        print(f"figures: {run.path / CURVES} and {run.path / 'samples'}/")


def _naming_the_file(file: str | None, flags: dict[str, Any], check: Callable[[], Any]) -> Any:
    """``check()``; a WganError about a setting that the config ``file`` gave and no flag replaced says so: a
    run's config.toml reused as --config holds every setting of its algorithm, which another may refuse."""
    try:
        return check()
    except WganError as error:
        given = load_toml(file) if file else {}
        if not any(str(error).startswith(f"{key} ") and flags.get(key) is None for key in given):
            raise
        raise WganError(f"config file '{file}': {error}") from None


def _sample(args: argparse.Namespace) -> None:
    if args.n <= 0:
        raise WganError(f"--n must be a positive number of samples, got {args.n}")
    check_torch_seed(args.seed, "--seed")
    outputs.output_form(args.out)  # a mistyped --out fails before the run is loaded
    refuse_the_runs_own(args.run, args.out)
    run = api.load_run(args.run, args.checkpoint, args.device)
    api.refuse_the_data(run.config, args.out)  # (the interpolation's strip; save_samples asks too)
    try:
        if args.interpolate is not None:
            written = outputs.write_interpolation(run.pick_generator(args.ema), run.config.latent_dim, args.out,
                                                  args.n, args.interpolate, args.seed)
        else:
            written = run.save_samples(args.out, args.n, args.seed, args.ema)
    except OSError as error:
        raise output_refused(args.out, error) from None
    drawn_by = "its moving average" if run.pick_generator(args.ema) is run.average else "its generator"
    print(f"wrote {written} from {args.run} ({args.checkpoint}, iteration {run.iteration}, {drawn_by}) to {args.out}")


def _plot(args: argparse.Namespace) -> None:
    written = api.plot_run(args.run)
    print(f"wrote {' and '.join(str(path) for path in written)}")


def _write(path: Path, write) -> None:
    """Write ``path`` atomically; a file system that refuses is one line, not a traceback."""
    try:
        atomic_write(path, write)
    except OSError as error:
        raise output_refused(path, error) from None


def _eval(args: argparse.Namespace) -> None:
    """Print the scores, and write them into the run folder unless a training holds it (a second process does
    not write a run folder in use: the scores are then printed alone, with a line saying so)."""
    scores = api.evaluate_run(args.run, args.checkpoint, args.samples, args.device, args.ema, args.seed)
    out = Path(args.run) / f"eval_{args.checkpoint}.json"
    print(json.dumps(scores, indent=2))
    run = RunFolder(Path(args.run))  # opened and read by evaluate_run already: its lock alone is needed here
    try:
        run.lock()
    except WganError as in_use:
        print(f"wgan: warning: {out} is not written: {in_use}", file=sys.stderr)
        return
    try:
        _write(out, lambda file: file.write(json.dumps(scores, indent=2).encode()))
    finally:
        run.close()
    print(f"written to {out}")


def _out_of_memory(error: BaseException) -> bool:
    """Whether ``error`` is an allocation that failed: Python's, torch's on the CPU or on a GPU."""
    return isinstance(error, (MemoryError, torch.OutOfMemoryError)) or "can't allocate memory" in str(error)


def _allocation(error: BaseException) -> str:
    """What the failed allocation asked for: "80.0 GB" from torch's CPU allocator, else the error's first line."""
    asked = re.search(r"allocate (\d+) bytes", str(error))
    if asked:
        return f"{int(asked.group(1)) / 1e9:.1f} GB asked for"
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def _interrupted(args: argparse.Namespace, run_path: str | None, finished: bool = False) -> str:
    """What a Ctrl-C that stopped ``args.command`` at once leaves: for training, the run folder ``run_path`` with
    its last checkpoint, or none when the run had written none (the first Ctrl-C of a run in its loop stops it
    at the end of its iteration instead, see :class:`Stopped`); a ``finished`` run, its last figures undrawn."""
    if args.command == "train" and finished:
        return (f"wgan: interrupted at once as the run's last figures were drawn; the run had finished, and its "
                f"checkpoints and metrics in {run_path} are saved (curves.png and progress.gif may be missing: draw "
                f"them with `wgan plot {shlex.quote(run_path)}`)")
    if args.command == "train" and run_path is None:
        return "wgan: interrupted at once, before the run's first checkpoint: no run folder is left"
    if args.command == "train":
        return ("wgan: interrupted at once; the checkpoint last written is kept: continue with `wgan train "
                f"--resume {shlex.quote(run_path)}`")
    if args.command in ("play", "watch"):
        return f"wgan {args.command}: stopped"
    if args.command == "experiment" and args.name == "all":
        return ("wgan experiment: interrupted; the experiments that ended have their new pages (and an earlier "
                "report shows them), the one running keeps the pages it had, and no new report is written")
    if args.command == "experiment":
        return "wgan experiment: interrupted before it wrote its pages; those written before are unchanged"
    return f"wgan {args.command}: interrupted; nothing was written"


def _interrupted_run(interrupt: KeyboardInterrupt, args: argparse.Namespace) -> str | None:
    """The run folder that an interrupt at once leaves with its checkpoints: the one it names (the API's
    ``Interrupted``), or that of a stop it came in on, as the stop ended (its checkpoint saved), or the one
    resumed; None where there is none."""
    if hasattr(interrupt, "run_path"):
        return interrupt.run_path
    if isinstance(interrupt.__context__, Stopped) and interrupt.__context__.run_path is not None:
        return str(interrupt.__context__.run_path)
    return getattr(args, "resume", None)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 a rank of `--nproc` failed otherwise, 2 user
    error, 3 another rank stopped first, 75 stopped by a signal with the checkpoint saved, 130 interrupted at once
    by a second Ctrl-C, 141 the reader of the output gone).

    Under torchrun every rank runs this; rank 0 alone prints user errors (the ranks find the same ones in the
    settings, and gather the others to rank 0), the other ranks waiting until it has (:func:`distributed.report`),
    and a rank that loses its peers says so in one line.
    """
    argv = sys.argv[1:] if argv is None else argv
    try:
        args, unknown = build_parser().parse_known_args(argv)
    except SystemExit as exit:  # --help, or a flag argparse rejected (already printed)
        return exit.code
    except KeyboardInterrupt:  # the launcher's ranks parse their command as the Ctrl-C that stops it arrives
        distributed.report("\n" + INTERRUPTED_WHILE_STARTING)
        return EXIT_INTERRUPTED
    if unknown:  # argparse's own line named `wgan --help`, which does not list the command's options
        distributed.report(f"wgan {args.command}: error: unrecognized arguments: {' '.join(unknown)} (see wgan "
                           f"{args.command} --help)")
        return EXIT_USER_ERROR
    try:
        return _outcome(args, argv)
    except KeyboardInterrupt as interrupt:  # a Ctrl-C as the outcome was being said (`--nproc` passes a second
        if isinstance(interrupt.__context__, Stopped):  # one on to rank 0): a stop's, whose checkpoint is saved
            distributed.report("\n" + _interrupted(args, _interrupted_run(interrupt, args)), of_the_run_folder=True)
        return EXIT_INTERRUPTED  # (an error's line is said first thing)


def _outcome(args: argparse.Namespace, argv: list[str]) -> int:
    """Run the command of ``args`` and say how it ended: its exit status (:func:`main`)."""
    try:
        if args.command == "train" and args.nproc != 1:
            return _launch(args, argv)
        {"train": _train, "sample": _sample, "eval": _eval, "plot": _plot, "experiment": run_experiments,
         "play": _play, "watch": _watch}[args.command](args)
    except WganError as error:  # one line, whatever a value quoted in the message holds
        distributed.report("wgan: error: " + " ".join(str(error).splitlines()))
        return EXIT_USER_ERROR
    except Stopped as stop:
        if args.command != "train":  # an experiment's runs, which it does not keep to resume: an interrupt
            distributed.report("\n" + _interrupted(args, None))  # on a line of its own, after the terminal's ^C
            return EXIT_INTERRUPTED
        distributed.report(f"wgan: {stop}; the latest checkpoint is saved: continue with `wgan train --resume "
                           f"{shlex.quote(str(stop.run_path))}`", of_the_run_folder=True)
        return EXIT_STOPPED
    except (RuntimeError, MemoryError) as error:
        if _out_of_memory(error):
            distributed.report(f"wgan: error: out of memory ({_allocation(error)}): {MEMORY_HINTS[args.command]}")
            return EXIT_USER_ERROR
        lost = distributed.lost_peer(error)
        if lost is None:
            raise
        if not distributed.launched_by_wgan():  # whose line names the rank that failed first, and how
            print(f"wgan: error: rank {os.environ.get('RANK', '?')} lost contact with the other processes "
                  f"({lost}): another rank stopped, and its message or torchrun's says why", file=sys.stderr)
        return EXIT_LOST_PEER
    except KeyboardInterrupt as interrupt:
        distributed.report("\n" + _interrupted(args, _interrupted_run(interrupt, args),
                                               getattr(interrupt, "finished", False)))
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # what reads the output has gone (`wgan eval ... | head -1`): the rest is not wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # the flush at exit would fail again
        return EXIT_BROKEN_PIPE
    except OSError as error:  # the system refused a file (full, unreadable, a folder in its place): the files are
        if error.filename is None and error.errno not in (*FULL, *FORBIDDEN, *IN_THE_WAY):  # written atomically,
            raise  # so none is left torn; not a file's problem (too many open files, a fork refused): a traceback
        distributed.report("wgan: error: " + refused(error))
        return EXIT_USER_ERROR
    return 0
