"""Seconds per image evaluation: the classifier's scores of 10,000 images, part by part.

    python benchmarks/metric_cost.py --data-dir ../shared/data/mnist --threads 2

Scores 10,000 MNIST training images (standing in for generated ones) against the test split's reference, as
every evaluation of an image run does (``wgan.metrics.image_scorer``), and times, best of --repeats: the
classifier's pass over the images (features and logits), the scores every evaluation had before KID and the
k-NN scores (FD, classes, class KL, confidence), the KID with precision/recall and density/coverage
(``wgan.metrics.feature_metrics.feature_scores``), and the whole call. Prints the machine and the load average
beside them: time one thing at a time.
"""

from __future__ import annotations

import os
import time

import torch
from throughput import machine_name

from wgan.config import make_config
from wgan.data import build_sampler
from wgan.metrics.feature_metrics import feature_scores
from wgan.metrics.image_scorer import image_scorer
from wgan.metrics.images import classify, feature_statistics, frechet_distance

from command import MNIST_DIR, Parser, positive_int, run


def best_seconds(work, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = Parser(__doc__)
    parser.add_argument("--data-dir", default=str(MNIST_DIR), help=f"folder of the MNIST IDX files; default: "
                        f"{MNIST_DIR}")
    parser.add_argument("--n", type=positive_int, default=10_000, help="images scored; default: 10,000")
    parser.add_argument("--threads", type=positive_int, default=torch.get_num_threads())
    parser.add_argument("--repeats", type=positive_int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = make_config(preset="mnist-wgan-gp", data_dir=args.data_dir)
    sampler = build_sampler(config.data, "cpu", config.data_dir, config.image_size)
    scorer = image_scorer(config, sampler)
    images = sampler.sample(args.n, torch.Generator().manual_seed(0))
    model, reference = scorer.classifier.model, scorer.reference
    features, logits = classify(model, images)

    def before() -> None:  # what an evaluation computed before KID and the k-NN scores
        mu, sigma = feature_statistics(features)
        frechet_distance(mu, sigma, reference.mu, reference.sigma)
        torch.softmax(logits.double(), dim=1).max(dim=1)

    parts = {"classifier pass": lambda: classify(model, images), "FD, classes, KL, confidence": before,
             "KID, precision/recall, density/coverage": lambda: feature_scores(reference.features, features),
             "the whole evaluation": lambda: scorer(images)}
    load = os.getloadavg()[0]
    print(f"{machine_name(torch.device('cpu'))}, {args.threads} threads, load average {load:.1f} at the start; "
          f"{args.n} images, best of {args.repeats}:")
    for name, work in parts.items():
        print(f"  {name:42s} {best_seconds(work, args.repeats):6.2f} s", flush=True)
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    run(main)
