"""Image metrics: the Frechet distance against its closed forms, the digits classifier and its cache, the class
scores on sets whose classes are known by construction, and pixel W1 of a translation."""

import math

import numpy as np
import pytest
import torch

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


def _noisy(images, std, seed=0):
    """uint8 images in [-1, 1] with Gaussian noise of ``std`` added, clipped back to [-1, 1]."""
    x = images.float() / 127.5 - 1.0
    noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(seed))
    return (x + std * noise).clamp(-1.0, 1.0)


# ------------------------------------------------------------------------------------------- Frechet distance
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


def test_training_with_a_seed_is_deterministic_and_leaves_the_global_random_state_alone(digits):
    state = torch.get_rng_state()
    subset = (digits[0][:200], digits[1][:200], digits[2][:50], digits[3][:50])
    first, accuracy1 = train_classifier(*subset, epochs=1, batch_size=50, seed=7)
    second, accuracy2 = train_classifier(*subset, epochs=1, batch_size=50, seed=7)
    assert torch.equal(torch.get_rng_state(), state)
    assert accuracy1 == accuracy2
    for (name, a), (_, b) in zip(first.state_dict().items(), second.state_dict().items()):
        assert torch.equal(a, b), name


def test_default_cache_dir_is_the_environment_variable_else_the_user_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("WGAN_CACHE_DIR", str(tmp_path / "here"))
    assert default_cache_dir() == tmp_path / "here"
    monkeypatch.delenv("WGAN_CACHE_DIR")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / ".cache" / "wgan"


# ------------------------------------------------------------------------------------------- classifier scores
def test_the_reference_set_scored_against_itself_has_zero_fd_and_zero_class_kl(trained, reference, digits):
    scores = classifier_scores(trained.model, digits[2], reference)
    assert set(scores) == {"fd", "classes_covered", "classes_total", "class_kl", "confidence"}
    assert scores["fd"] == pytest.approx(0.0, abs=1e-6)
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


def test_scores_of_images_at_another_size_or_with_one_image_are_refused(trained, reference, digits):
    with pytest.raises(WganError, match="trained on"):
        classifier_scores(trained.model, torch.zeros(4, 1, 16, 16), reference)
    with pytest.raises(WganError, match="at least 2"):
        classifier_scores(trained.model, digits[2][:1], reference)


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
