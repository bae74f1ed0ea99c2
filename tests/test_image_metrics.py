"""Image metrics: the Frechet distance against its closed forms, KID against the kernel formula worked by hand,
k-NN precision, recall, density and coverage on balls counted by hand, the digits classifier and its cache, the
class scores on sets whose classes are known by construction, the metric card, and pixel W1 of a translation."""

import copy
import json
import math
import sys

import numpy as np
import pytest
import torch

import wgan
import wgan.metrics.classifier as classifier_module
from wgan.data.images import load_digits
from wgan.errors import WganError
from wgan.metrics.classifier import (
    HIDDEN,
    Classifier,
    classify,
    default_cache_dir,
    load_classifier,
    train_classifier,
)
from wgan.metrics.feature_metrics import (
    feature_scores,
    kid,
    knn_distances,
    manifold_scores,
    reference_features,
)
from wgan.metrics.image_scorer import ImageScorer, chance_warning, weights_sha256
from wgan.metrics.images import (
    classifier_scores,
    feature_statistics,
    frechet_distance,
    pixel_distances,
    reference_statistics,
)

pytestmark = pytest.mark.usefixtures("one_thread")

TRAINING = {"epochs": 2, "batch_size": 32, "seed": 0}  # about 97% test accuracy on digits


@pytest.fixture(scope="module")
def digits():
    """The 8x8 digits, shuffled once and split 1400 / 397: (train images, train labels, test images, test labels)."""
    data = load_digits()
    order = torch.randperm(len(data.images), generator=torch.Generator().manual_seed(0))
    images, labels = data.images[order], data.labels[order]
    return images[:1400], labels[:1400], images[1400:], labels[1400:]


@pytest.fixture(scope="module")
def trained(digits, tmp_path_factory):
    return load_classifier("digits", *digits, cache_dir=tmp_path_factory.mktemp("cache"), **TRAINING)


@pytest.fixture(scope="module")
def reference(trained, digits):
    return reference_statistics(trained.model, digits[2])


def _random_covariance(rng, d):
    a = rng.normal(size=(d, d))
    return a @ a.T / d + 0.1 * np.eye(d)


def _polynomial_kid(x, y):
    """The unbiased MMD^2 with the kernel (x.y / d + 1)^3 of two whole sets, summed pair by pair."""
    def k(a, b):
        return (np.dot(a, b) / len(a) + 1.0) ** 3

    m, n = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    xy = sum(k(a, b) for a in x for b in y) / (m * n)
    return xx + yy - 2.0 * xy


def _noisy(images, std, seed=0):
    """uint8 images in [-1, 1] with Gaussian noise of ``std`` added, clipped back to [-1, 1]."""
    x = images.float() / 127.5 - 1.0
    noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(seed))
    return (x + std * noise).clamp(-1.0, 1.0)


# ------------------------------------------------------------------------------------------- Frechet distance
@pytest.mark.parametrize("scale", [1e-100, 1e100, 1e150])
def test_frechet_distance_scales_with_the_square_of_the_features_at_any_scale(scale):
    # covariances of 1e200 gave 0 (their product overflowed, and max(0, nan) is 0), those of 1e-200 five times
    # the distance (their product underflowed)
    features = np.random.default_rng(0).normal(size=(100, 3))
    (mu1, sigma1), (mu2, sigma2) = feature_statistics(features), feature_statistics(features * 1.5 + 0.5)
    assert frechet_distance(mu1 * scale, sigma1 * scale**2, mu2 * scale, sigma2 * scale**2) / scale**2 == \
        pytest.approx(frechet_distance(mu1, sigma1, mu2, sigma2), rel=1e-12)
    with pytest.raises(WganError, match="the Frechet distance of these Gaussians overflows float64"):
        frechet_distance([1e308], [[1e308]], [-1e308], [[1e307]])


def test_frechet_distance_of_a_feature_set_with_itself_is_zero():
    features = np.random.default_rng(0).normal(size=(500, 16)) @ np.diag(np.arange(1.0, 17.0))
    mu, sigma = feature_statistics(features)
    assert frechet_distance(mu, sigma, mu, sigma) == pytest.approx(0.0, abs=1e-9)


def test_frechet_distance_with_singular_covariances_of_itself_is_zero():
    mu, sigma = feature_statistics(np.random.default_rng(1).normal(size=(5, 32)))  # rank 4 in 32 dimensions
    assert frechet_distance(mu, sigma, mu, sigma) == pytest.approx(0.0, abs=1e-9)


def test_frechet_distance_with_equal_covariances_is_squared_mean_difference():
    rng = np.random.default_rng(2)
    sigma = _random_covariance(rng, 20)
    mu1, mu2 = rng.normal(size=20), rng.normal(size=20)
    assert frechet_distance(mu1, sigma, mu2, sigma) == pytest.approx(np.sum((mu1 - mu2) ** 2), rel=1e-9)


def test_frechet_distance_of_diagonal_gaussians_is_the_sum_of_squared_root_variance_differences():
    rng = np.random.default_rng(3)
    a, b = rng.uniform(0.1, 4.0, size=10), rng.uniform(0.1, 4.0, size=10)
    mu = rng.normal(size=10)
    expected = np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    assert frechet_distance(mu, np.diag(a), mu, np.diag(b)) == pytest.approx(expected, rel=1e-9)


def test_frechet_distance_is_symmetric_for_full_covariances():
    rng = np.random.default_rng(4)
    s1, s2 = _random_covariance(rng, 12), _random_covariance(rng, 12)
    mu1, mu2 = rng.normal(size=12), rng.normal(size=12)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(frechet_distance(mu2, s2, mu1, s1), rel=1e-9)
    assert frechet_distance(mu1, s1, mu2, s2) > np.sum((mu1 - mu2) ** 2)


# ------------------------------------------------------------------------------------------------------- KID
def test_kid_of_two_points_against_the_same_shifted_by_one_is_the_kernel_sum_worked_by_hand():
    # X = {0, 1}, Y = {1, 2}, d = 1, k(x, y) = (xy + 1)^3: the XX pair gives 1, the YY pair (2 + 1)^3 = 27, the
    # four XY pairs 1 + 1 + 8 + 27 = 37: MMD^2 = 2/2 + 54/2 - 2 * 37/4 = 9.5. Subsets of 2 are the whole sets.
    assert kid([[0.0], [1.0]], [[1.0], [2.0]]) == (pytest.approx(9.5, rel=1e-12), 0.0)


def test_kid_over_whole_sets_is_the_unbiased_estimate_summed_pair_by_pair():
    rng = np.random.default_rng(5)
    real, fake = rng.normal(size=(30, 2)), rng.normal(loc=0.5, size=(40, 2))
    mean, std = kid(real, fake, subsets=3, subset_size=1000)
    assert mean == pytest.approx(_polynomial_kid(real, fake), rel=1e-10)
    assert std == pytest.approx(0.0, abs=1e-12)


def test_kid_of_two_point_masses_is_the_kernel_distance_of_the_two_points():
    a, b = np.array([1.0, -2.0, 0.5]), np.array([3.0, 1.0, -1.0])
    kernel = (np.stack([a, b]) @ np.stack([a, b]).T / 3 + 1.0) ** 3  # k(a, a), k(a, b); k(b, a), k(b, b)
    mean, std = kid(np.tile(a, (50, 1)), np.tile(b, (40, 1)), subsets=20, subset_size=10)
    assert mean == pytest.approx(kernel[0, 0] + kernel[1, 1] - 2 * kernel[0, 1], rel=1e-12)
    assert std == pytest.approx(0.0, abs=1e-9)


def test_kid_of_a_set_against_itself_is_zero_within_its_standard_deviation():
    features = np.random.default_rng(6).normal(size=(2000, 8))
    mean, std = kid(features, features, subsets=50, subset_size=200)
    assert 0 < std < 0.1 and abs(mean) <= std


def test_kid_of_far_apart_sets_is_many_standard_deviations_above_zero():
    features = np.random.default_rng(7).normal(size=(2000, 8))
    mean, std = kid(features, features + 10.0, subsets=50, subset_size=200)
    assert mean > 1e5 and mean > 30 * std


# ------------------------------------------------------------------------------ precision, recall, density, coverage
def test_knn_distances_are_the_sorted_distances_to_the_other_samples():
    assert knn_distances([[0.0], [10.0], [30.0]], 2).tolist() == [[10, 30], [10, 20], [20, 30]]
    assert knn_distances([[0.0], [0.0], [5.0]], 1).tolist() == [[0], [0], [5]]  # a copy is a neighbour


def test_manifold_scores_of_a_one_dimensional_example_are_the_balls_counted_by_hand():
    # Real 0, 10, 30: 1-NN balls [-10, 10], [0, 20], [10, 50]; 2-NN balls [-30, 30], [-10, 30], [0, 60].
    # Fake 5, 6, 51, 200: 1-NN balls [4, 6], [5, 7], [6, 96], [51, 349].
    real, fake = [[0.0], [10.0], [30.0]], [[5.0], [6.0], [51.0], [200.0]]
    # 5 and 6 lie in real balls, 51 and 200 in none; 10 and 30 lie in [6, 96], 0 in no fake ball; 5 and 6 lie in
    # two 1-NN real balls each (4 of 1 * 4), and nothing lies in [10, 50].
    assert manifold_scores(real, fake, precision_k=1, density_k=1) == pytest.approx(
        {"precision": 1 / 2, "recall": 2 / 3, "density": 4 / 4, "coverage": 2 / 3})
    # 5 and 6 lie in all three 2-NN balls and 51 in [0, 60]: 7 of 2 * 4; every 2-NN ball holds 5.
    assert manifold_scores(real, fake, precision_k=1, density_k=2) == pytest.approx(
        {"precision": 1 / 2, "recall": 2 / 3, "density": 7 / 8, "coverage": 1.0})
    # A ball is closed: 50 on the edge of [10, 50] is inside it.
    assert manifold_scores(real, [[50.0], [200.0]], precision_k=1, density_k=1) == pytest.approx(
        {"precision": 1 / 2, "recall": 1.0, "density": 1 / 2, "coverage": 1 / 3})


def test_a_set_against_itself_has_full_precision_recall_and_coverage_and_density_one_plus_one_over_k():
    # Powers of two: every distance differs from every other and is exact in float64, so each sample lies in its
    # own ball and in exactly k others', the ones of which it is a k nearest neighbour.
    features = 2.0 ** np.arange(20)[:, None]
    assert manifold_scores(features, features) == {"precision": 1.0, "recall": 1.0, "density": 6 / 5,
                                                   "coverage": 1.0}


def test_far_apart_sets_have_zero_precision_recall_density_and_coverage():
    real = np.random.default_rng(8).normal(size=(200, 4))
    scores = manifold_scores(real, real[:150] + 100.0)
    assert scores == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}


def test_scores_against_prepared_reference_features_equal_the_pairwise_functions():
    rng = np.random.default_rng(9)
    real, fake = rng.normal(size=(80, 3)).astype(np.float32), rng.normal(loc=0.3, size=(60, 3)).astype(np.float32)
    reference = reference_features(real, kid_subsets=10, kid_subset_size=25)
    kid_mean, kid_std = kid(real, fake, subsets=10, subset_size=25)
    assert feature_scores(reference, fake) == {"kid": kid_mean, "kid_std": kid_std, **manifold_scores(real, fake)}
    whole = reference_features(real, kid_subsets=10, kid_subset_size=80)  # both sets within one subset: no spread
    assert feature_scores(whole, fake) == {"kid": kid(real, fake, subsets=10, subset_size=80)[0],
                                           **manifold_scores(real, fake)}
    assert reference.samples.dtype == torch.float32  # float32 features keep their precision


@pytest.mark.parametrize("call, message", [
    (lambda: kid(np.zeros(5), np.zeros((5, 1))), r"shape \(5,\); expected .* \(n, d\)"),
    (lambda: kid(np.zeros((5, 3)), np.zeros((5, 4))), "3 dimensions but fake features 4"),
    (lambda: kid(np.zeros((5, 3)), np.zeros((1, 3))), "fake features hold 1 samples; expected at least 2"),
    (lambda: kid(np.zeros((5, 3)), np.zeros((5, 3)), subsets=0), "subsets is 0"),
    (lambda: kid(np.zeros((5, 3)), np.zeros((5, 3)), subset_size=1), "subset_size is 1"),
    (lambda: kid(np.full((5, 3), np.nan), np.zeros((5, 3))), "NaN"),
    (lambda: manifold_scores(np.zeros((10, 2)), np.zeros((3, 2))), "fake features hold 3 samples; expected at least 4"),
    (lambda: manifold_scores(np.zeros((5, 2)), np.zeros((10, 2))), "real features hold 5 samples; expected at least 6"),
    (lambda: manifold_scores(np.zeros((10, 2)), np.zeros((10, 2)), precision_k=0), "precision_k is 0"),
    (lambda: knn_distances(np.zeros((3, 2)), 3), "at least 4"),
    (lambda: knn_distances(np.zeros((3, 2)), 1.5), "k is 1.5"),
    (lambda: feature_scores(reference_features(np.zeros((10, 2))), np.zeros((10, 3))), "2 dimensions"),
])
def test_feature_metrics_refuse_bad_input_with_one_line(call, message):
    with pytest.raises(WganError, match=message) as error:
        call()
    assert "\n" not in str(error.value)


# ------------------------------------------------------------------------------------------------ classifier
@pytest.mark.parametrize("channels, size", [(1, 8), (1, 28), (3, 32), (1, 64)])
def test_classifier_gives_logits_and_penultimate_features_for_every_image_size(channels, size):
    model = Classifier(channels, size, num_classes=7)
    x = torch.zeros(3, channels, size, size)
    assert model(x).shape == (3, 7)
    assert model.features(x).shape == (3, HIDDEN)


def test_classifier_trained_briefly_on_digits_classifies_most_test_digits(trained):
    assert trained.test_accuracy >= 0.9
    assert not trained.model.training
    assert trained.path.is_file() and trained.path.name.startswith("digits-")


def test_cached_classifier_loads_without_training_and_predicts_the_same(trained, digits, monkeypatch):
    def no_training(*args, **kwargs):
        raise AssertionError("the cached classifier was trained again")

    monkeypatch.setattr(classifier_module, "train_classifier", no_training)
    again = load_classifier("digits", *digits, cache_dir=trained.path.parent, **TRAINING)
    assert again.path == trained.path
    assert again.test_accuracy == trained.test_accuracy
    assert torch.equal(classify(again.model, digits[2])[1], classify(trained.model, digits[2])[1])


@pytest.mark.parametrize("changed", ["one pixel", "one label", "the seed"])
def test_a_different_dataset_or_setting_under_the_same_key_gets_its_own_cache_file(trained, digits, changed,
                                                                                   monkeypatch):
    monkeypatch.setattr(classifier_module, "train_classifier", lambda *a, **k: (Classifier(1, 8, 10).eval(), 0.5))
    train_images, train_labels = digits[0].clone(), digits[1].clone()
    training = dict(TRAINING)
    if changed == "one pixel":
        train_images[0, 0, 0, 0] ^= 1
    elif changed == "one label":
        train_labels[0] = (train_labels[0] + 1) % 10
    else:
        training["seed"] = 1
    other = load_classifier("digits", train_images, train_labels, *digits[2:], cache_dir=trained.path.parent,
                            **training)
    assert other.path != trained.path and other.path.is_file()
    assert other.test_accuracy == 0.5


def test_an_unreadable_cache_file_is_an_error_that_says_to_delete_it(digits, tmp_path):
    path = load_classifier("digits", *digits, cache_dir=tmp_path, epochs=1, batch_size=700).path
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(WganError, match="delete it to retrain"):
        load_classifier("digits", *digits, cache_dir=tmp_path, epochs=1, batch_size=700)


def test_a_cache_folder_that_is_a_file_is_one_line_before_any_training(digits, tmp_path, monkeypatch):
    # it trained the classifier first, then failed to write it with "[Errno 17] File exists"
    monkeypatch.setattr(classifier_module, "train_classifier", lambda *args, **kwargs: pytest.fail("trained"))
    (tmp_path / "cache").write_text("")
    with pytest.raises(WganError, match=r"cannot make the classifier cache folder '.*cache' \(a file is in its "
                                        r"place\): set WGAN_CACHE_DIR"):
        load_classifier("digits", *digits, cache_dir=tmp_path / "cache", epochs=1, batch_size=700)


def test_training_with_a_seed_is_deterministic_and_leaves_the_global_random_state_alone(digits):
    state = torch.get_rng_state()
    subset = (digits[0][:200], digits[1][:200], digits[2][:50], digits[3][:50])
    first, accuracy1 = train_classifier(*subset, epochs=1, batch_size=50, seed=7)
    second, accuracy2 = train_classifier(*subset, epochs=1, batch_size=50, seed=7)
    assert torch.equal(torch.get_rng_state(), state)
    assert accuracy1 == accuracy2
    for (name, a), (_, b) in zip(first.state_dict().items(), second.state_dict().items()):
        assert torch.equal(a, b), name


def test_without_a_terminal_training_progress_is_one_plain_line_per_epoch(digits, capsys):
    assert not sys.stderr.isatty()  # as in a batch job, whose output is a file
    subset = (digits[0][:200], digits[1][:200], digits[2][:50], digits[3][:50])
    train_classifier(*subset, epochs=2, batch_size=50, seed=7, progress=True)
    captured = capsys.readouterr()
    assert "\r" not in captured.out + captured.err
    lines = [line.split(" | ")[:2] for line in captured.out.splitlines()]
    assert [where for where, _ in lines] == ["classifier: iteration 4/8", "classifier: iteration 8/8"]
    assert [what.split(", loss ")[0] for _, what in lines] == ["epoch 1/2", "epoch 2/2"]


def test_default_cache_dir_is_the_environment_variable_else_the_user_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("WGAN_CACHE_DIR", str(tmp_path / "here"))
    assert default_cache_dir() == tmp_path / "here"
    monkeypatch.delenv("WGAN_CACHE_DIR")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / ".cache" / "wgan"


# ------------------------------------------------------------------------------------------- classifier scores
def test_the_reference_set_scored_against_itself_has_zero_fd_and_zero_class_kl(trained, reference, digits):
    scores = classifier_scores(trained.model, digits[2], reference)
    # no kid_std: both sets are within a KID subset, so there is one subset, whose spread of 0 read as exact
    assert set(scores) == {"fd", "kid", "precision", "recall", "density", "coverage", "classes_covered",
                           "classes_total", "class_kl", "confidence"}
    assert scores["fd"] == pytest.approx(0.0, abs=1e-6)
    # Subsets of up to 1000 are the whole 397 images on both sides: the estimate of two identical samples is
    # 2 (1'K1 - N tr K) / (N^2 (N - 1)) <= 0 (1'K1 <= N lambda_max <= N tr K), the same for every subset.
    assert scores["kid"] <= 0
    assert scores["precision"] == scores["recall"] == scores["coverage"] == 1.0
    assert scores["density"] == pytest.approx(6 / 5, abs=0.05)  # (k + 1) / k, but for rounding at the balls' edges
    assert scores["class_kl"] == pytest.approx(0.0, abs=1e-12)
    assert scores["classes_covered"] == scores["classes_total"] == 10
    assert 0.1 <= scores["confidence"] <= 1.0


def test_frechet_distance_grows_with_the_pixel_noise_added_to_the_images(trained, reference, digits):
    fds = [classifier_scores(trained.model, _noisy(digits[2], std), reference)["fd"] for std in (0.0, 0.2, 0.5, 1.0)]
    assert fds[0] < 1e-3
    assert all(a < b for a, b in zip(fds, fds[1:])), fds


def test_classes_covered_counts_only_the_classes_a_generated_set_is_made_of(trained, reference, digits):
    images = digits[0]
    predicted = classify(trained.model, images)[1].argmax(dim=1)
    chosen = images[(predicted == 0) | (predicted == 3) | (predicted == 7)]
    stray = images[predicted == 5][:1]  # one image of a fourth class: too few to count
    scores = classifier_scores(trained.model, torch.cat([chosen, stray]), reference)
    assert (scores["classes_covered"], scores["classes_total"]) == (3, 10)


def test_class_kl_of_a_single_class_set_is_minus_the_log_of_that_class_share(trained, reference, digits):
    images = digits[2]
    predicted = classify(trained.model, images)[1].argmax(dim=1)
    scores = classifier_scores(trained.model, images[predicted == 4], reference)
    assert scores["class_kl"] == pytest.approx(-math.log(reference.class_shares[4]), rel=1e-3)
    assert scores["classes_covered"] == 1


def test_scores_of_images_at_another_size_or_too_few_for_the_recall_balls_are_refused(trained, reference, digits):
    with pytest.raises(WganError, match="trained on"):
        classifier_scores(trained.model, torch.zeros(4, 1, 16, 16), reference)
    with pytest.raises(WganError, match="generated holds 3 images; expected at least 4"):
        classifier_scores(trained.model, digits[2][:3], reference)


# ------------------------------------------------------------------------------------------------ metric card
def test_the_scorer_scores_like_classifier_scores_and_its_card_says_what_the_scores_compare_with(trained, reference,
                                                                                                digits):
    scorer = ImageScorer(trained, reference, "digits", "test split")
    assert scorer(digits[2][:50]) == classifier_scores(trained.model, digits[2][:50], reference)
    card = scorer.card(50)
    assert json.loads(json.dumps(card)) == card  # plain JSON
    extractor = card["feature_extractor"]
    assert extractor["class"] == "wgan.metrics.classifier.Classifier" and extractor["features"] == HIDDEN
    assert len(extractor["weights_sha256"]) == 64 and extractor["weights_sha256"] == weights_sha256(trained.model)
    assert card["reference"] == {"data": "digits", "split": "test split", "count": len(digits[2])}
    assert card["generated"] == {"count": 50}
    assert (card["images"]["size"], card["images"]["channels"], card["images"]["value_range"]) == (8, 1, [-1.0, 1.0])
    assert card["metrics"]["precision_recall"]["k"] == 3 and card["metrics"]["density_coverage"]["k"] == 5
    kid_settings = card["metrics"]["kid"]
    assert (kid_settings["subsets"], kid_settings["real_subset_size"], kid_settings["fake_subset_size"]) == (
        100, len(digits[2]), 50)


def test_the_weights_checksum_follows_the_values_not_the_memory_format(trained):
    model = copy.deepcopy(trained.model)
    assert weights_sha256(model.to(memory_format=torch.contiguous_format)) == weights_sha256(trained.model)
    with torch.no_grad():
        model.head.bias[0] += 1e-6
    assert weights_sha256(model) != weights_sha256(trained.model)


# ---------------------------------------------------------------------------------------------- pixel distances
def test_pixel_distances_of_a_set_with_itself_are_zero(digits):
    distances = pixel_distances(digits[2], digits[2], n=len(digits[2]))
    assert distances == {"pixel_w1": pytest.approx(0.0, abs=1e-9), "pixel_sliced_w1": pytest.approx(0.0, abs=1e-9)}


def test_pixel_distances_of_a_shifted_set_are_the_shift_length_and_its_mean_projection(digits):
    real = digits[2].float() / 255.0 - 0.5  # in [-0.5, 0.5], room for a shift of 0.25
    shift, d = 0.25, real[0].numel()
    distances = pixel_distances(real, real + shift, n=len(real))
    # The W1 of a translation is the length of the shift vector; a random unit direction projects it to
    # |s| E|theta_1| = |s| Gamma(d/2) / (sqrt(pi) Gamma((d+1)/2)) on average, estimated from 200 directions
    # with a relative standard error of about 5% at d = 64.
    length = shift * math.sqrt(d)
    mean_projection = math.exp(math.lgamma(d / 2) - math.lgamma((d + 1) / 2)) / math.sqrt(math.pi)
    assert distances["pixel_w1"] == pytest.approx(length, rel=1e-6)
    assert distances["pixel_sliced_w1"] == pytest.approx(length * mean_projection, rel=0.2)


# ------------------------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("real, fake, message", [
    (torch.zeros(10, 8, 8), torch.zeros(10, 1, 8, 8), "expected square images"),
    (torch.zeros(10, 1, 8, 8), torch.zeros(1, 1, 8, 8), "at least 2"),
    (torch.zeros(10, 1, 8, 8), torch.zeros(10, 3, 8, 8), "same size and channels"),
    (torch.zeros(10, 1, 8, 8), torch.full((10, 1, 8, 8), 255.0), r"expected \[-1, 1\]"),
    (torch.zeros(10, 2, 8, 8), torch.zeros(10, 2, 8, 8), "C in"),
])
def test_pixel_distances_refuse_bad_images(real, fake, message):
    with pytest.raises(WganError, match=message):
        pixel_distances(real, fake)


@pytest.mark.parametrize("args, message", [
    ((np.zeros(3), np.eye(3), np.zeros(4), np.eye(4)), "same d features"),
    ((np.zeros((3, 1)), np.eye(3), np.zeros(3), np.eye(3)), r"shape \(d,\)"),
    ((np.zeros(3), np.eye(3), np.zeros(3), np.full((3, 3), np.nan)), "NaN"),
])
def test_frechet_distance_refuses_mismatched_or_non_finite_statistics(args, message):
    with pytest.raises(WganError, match=message):
        frechet_distance(*args)


def test_feature_statistics_need_two_samples_of_rank_two():
    with pytest.raises(WganError, match="at least 2"):
        feature_statistics(np.zeros((1, 5)))
    with pytest.raises(WganError, match=r"\(n, d\)"):
        feature_statistics(np.zeros(5))


def test_training_refuses_labels_that_do_not_match_the_images(digits):
    with pytest.raises(WganError, match="integer labels"):
        train_classifier(digits[0], digits[1][:-1], digits[2], digits[3], epochs=1)


def test_load_classifier_refuses_a_key_that_is_not_a_plain_file_name(digits):
    with pytest.raises(WganError, match="plain file name"):
        load_classifier("../escape", *digits, cache_dir="unused")


def test_a_classifier_at_chance_on_labels_shuffled_apart_from_their_images_is_warned_about(digits, tmp_path, capsys):
    # images saved with their labels in another order scored a run by a classifier that learnt nothing, silently
    train_images, train_labels, test_images, test_labels = digits
    shuffled = [labels[torch.randperm(len(labels), generator=torch.Generator().manual_seed(1))]
                for labels in (train_labels, test_labels)]
    guessing = load_classifier("shuffled", train_images, shuffled[0], test_images, shuffled[1], cache_dir=tmp_path,
                               **TRAINING)
    largest = torch.bincount(shuffled[1]).max().item() / len(shuffled[1])
    assert chance_warning(guessing.test_accuracy, shuffled[1]).startswith(
        f"the classifier for the image scores reaches a test accuracy of {guessing.test_accuracy:.3f}, near chance "
        f"({largest:.3f}, the largest of 10 classes' share of the held-out images): do the labels belong to their "
        "images?")
    even, uneven = torch.arange(10).repeat(10), torch.tensor([0] * 6 + [1] * 2 + [2] * 2)
    assert chance_warning(0.9, even) is None and chance_warning(0.3, even) is not None
    # a classifier that always names the class of 6 in 10 scored 0.6, above 1/3 + 0.25 x 2/3: it was not warned about
    assert chance_warning(0.6, uneven) is not None and chance_warning(0.9, uneven) is None
    np.savez(tmp_path / "shuffled.npz", images=load_digits().images.numpy(),
             labels=load_digits().labels[torch.randperm(1797, generator=torch.Generator().manual_seed(1))].numpy())
    wgan.train(data=str(tmp_path / "shuffled.npz"), iterations=1, eval_every=1, eval_samples=200, batch_size=16,
               width=8, out=str(tmp_path / "runs"), progress=False)
    assert "wgan: warning: the classifier for the image scores reaches a test accuracy" in capsys.readouterr().err
