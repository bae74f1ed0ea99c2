"""How far two processes' weights land from one process's, after K iterations: the figures behind the
tolerances of tests/test_distributed.py.

    python benchmarks/rank_equality.py --iterations 3
    python benchmarks/rank_equality.py --iterations 10

Trains the test's configurations (its CONFIGURATIONS, with K iterations) on two ranks in one torchrun launch and
in this process, and prints for each the gap between the two, as a fraction of the distance training moved the
weights from their initial values, beside the same gap for another seed (the control). Needs the test extras
(pytest), since it reads the configurations from the test module.
"""

from __future__ import annotations

import importlib.util
import json
import tempfile
from pathlib import Path

import torch

import wgan

from command import Parser, positive_int, run

TESTS = Path(__file__).resolve().parent.parent / "tests" / "test_distributed.py"


def _test_module():
    spec = importlib.util.spec_from_file_location("test_distributed", TESTS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = Parser(__doc__)
    parser.add_argument("--iterations", type=positive_int, default=5,
                        help="generator iterations K; default: 5 (the test's)")
    args = parser.parse_args()
    test = _test_module()
    configurations = {name: (dict(settings, iterations=args.iterations), tolerance)
                      for name, (settings, tolerance) in test.CONFIGURATIONS.items()}
    with tempfile.TemporaryDirectory() as folder:
        listing, weights = Path(folder) / "configs.json", Path(folder) / "weights.pt"
        listing.write_text(json.dumps([settings for settings, _ in configurations.values()]))
        done = test._torchrun(str(test.SCRIPT), str(listing), str(weights))
        if done.returncode:
            raise SystemExit(done.stderr[-3000:])
        two_ranks = dict(zip(configurations, torch.load(weights)["weights"]))
    print(f"| configuration | gap at K = {args.iterations} | control: another seed | tolerance | ranks identical |")
    print("|---|---|---|---|---|")
    for name, (settings, tolerance) in configurations.items():
        one = wgan.train(write=False, progress=False, **settings)
        other = wgan.train(write=False, progress=False, **dict(settings, seed=1))
        reference, start = test._flat(one.generator, one.critic), test._initial_weights(settings)
        rank0, rank1 = two_ranks[name]
        print(f"| {name} | {test._relative_gap(rank0, reference, start):.1e} "
              f"| {test._relative_gap(test._flat(other.generator, other.critic), reference, start):.1e} "
              f"| {tolerance:g} | {torch.equal(rank0, rank1)} |")


if __name__ == "__main__":
    run(main)
