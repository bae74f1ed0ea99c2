"""The real-data floor of the image metrics: what real images score, the best a generator can hope for.

    python benchmarks/image_floor.py --data-dir /work/shared/data/mnist --image-size 32 --threads 2

Loads the train and test splits (MNIST-format IDX files), resized to --image-size as a run would see them,
trains the dataset's classifier (or loads it from the cache, see wgan.metrics.classifier.load_classifier) and
prints its test accuracy and how long getting it took; then the classifier scores of --n train images (disjoint
from the test split) against the test split's reference statistics, as one table row: the Frechet distance,
KID (mean and standard deviation over subsets), precision, recall, density and coverage of the classifier's
features, classes covered, class KL and confidence; and the pixel W1 (exact and sliced) between --pixel-n train
and --pixel-n test images. One JSON line with every number ends the output. Nothing is asserted: the numbers
are reported.
"""

from __future__ import annotations

import json
import time

import torch

from wgan.config import make_config
from wgan.data.images import ImageSampler, load_mnist_dir
from wgan.distributed import World, pick_device
from wgan.metrics.classifier import default_cache_dir, load_classifier
from wgan.metrics.images import classifier_scores, pixel_distances, reference_statistics

from command import Parser, positive_int, run


def main() -> None:
    parser = Parser(__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True, help="folder of MNIST-format IDX files (train and t10k)")
    parser.add_argument("--name", default="mnist", help="dataset name, for the cache key (default mnist)")
    parser.add_argument("--image-size", type=positive_int, default=32)
    parser.add_argument("--n", type=positive_int, default=10000, help="train images scored against the test split")
    parser.add_argument("--pixel-n", type=positive_int, default=2000, help="images per side for the pixel W1")
    parser.add_argument("--threads", type=positive_int, default=2)
    parser.add_argument("--device", default="cpu", help="auto, cpu, cuda or cuda:N (default cpu)")
    parser.add_argument("--cache-dir", default=None, help="classifier cache (default $WGAN_CACHE_DIR or ~/.cache/wgan)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    device = str(pick_device(make_config(device=args.device).device, World()))  # a GPU this machine lacks: one line
    torch.set_num_threads(args.threads)

    train, test = (
        ImageSampler(load_mnist_dir(args.data_dir, split, name=args.name), device, image_size=args.image_size)
        for split in ("train", "test")
    )
    cache_dir = args.cache_dir or default_cache_dir()
    start, start_cpu = time.perf_counter(), time.process_time()
    trained = load_classifier(f"{args.name}-{args.image_size}", train.images, train.labels, test.images,
                              test.labels, cache_dir=cache_dir, device=device, progress=True)
    classifier_seconds, classifier_cpu = time.perf_counter() - start, time.process_time() - start_cpu
    print(f"classifier {trained.path}: test accuracy {trained.test_accuracy:.4f}, {classifier_seconds:.1f} s wall, "
          f"{classifier_cpu:.1f} s CPU on {torch.get_num_threads()} threads (a cache hit takes under a second)")

    start = time.perf_counter()
    reference = reference_statistics(trained.model, test.images)
    subset = torch.randperm(len(train.images), generator=torch.Generator().manual_seed(args.seed))[:args.n]
    scores = classifier_scores(trained.model, train.images[subset.to(train.images.device)], reference)
    scores_seconds = time.perf_counter() - start
    scored = len(subset)  # --n, or the whole train split where it holds fewer
    print(f"{scored} train images vs the test split ({scores_seconds:.1f} s, with the reference statistics):")
    print("| FD | KID (std) | precision | recall | density | coverage | classes | class KL | confidence |")
    print(f"| {scores['fd']:.4g} | {scores['kid']:.4g} ({scores['kid_std']:.3g}) | {scores['precision']:.4f} "
          f"| {scores['recall']:.4f} | {scores['density']:.4f} | {scores['coverage']:.4f} "
          f"| {scores['classes_covered']}/{scores['classes_total']} | {scores['class_kl']:.4g} "
          f"| {scores['confidence']:.4f} |")

    start = time.perf_counter()
    pixels = pixel_distances(train.images, test.images, n=args.pixel_n, seed=args.seed)
    pixel_seconds = time.perf_counter() - start
    pixel_n = {split: min(args.pixel_n, len(images)) for split, images in (("train", train.images),
                                                                           ("test", test.images))}
    print(f"pixels, {pixel_n['train']} train vs {pixel_n['test']} test images ({pixel_seconds:.1f} s): "
          + ", ".join(f"{key} {value:.4g}" for key, value in pixels.items()))

    print(json.dumps({
        "data": args.name, "image_size": args.image_size, "threads": torch.get_num_threads(),
        "test_accuracy": trained.test_accuracy, "classifier_seconds": round(classifier_seconds, 1),
        "classifier_cpu_seconds": round(classifier_cpu, 1),
        "n": scored, **scores, "scores_seconds": round(scores_seconds, 1),
        "pixel_n_train": pixel_n["train"], "pixel_n_test": pixel_n["test"], **pixels,
        "pixel_seconds": round(pixel_seconds, 1),
    }))


if __name__ == "__main__":
    run(main)
