"""Configuration: the papers' defaults per algorithm, the order defaults < file < flags, the TOML round trip,
and a WganError that names the offending setting for every kind of bad input."""

import dataclasses
import os
import re

import numpy as np
import pytest

import wgan
from wgan.cli import main
from wgan.config import (ALGORITHM_DEFAULTS, DATA_DEFAULTS, IMAGE_MODEL_DEFAULTS, MODELS, POINT_DATA_OVERRIDES, PRESETS,
                         Config, make_config, to_toml)
from wgan.data import TOY_DATASET_NAMES, build_sampler, data_kind
from wgan.errors import WganError
from wgan.models import CRITICS, GENERATORS


# ---------------------------------------------------------------------------------------- algorithm defaults
def test_wgan_defaults_are_rmsprop_5e_5_clip_0_01_five_critic_steps_and_warmup():
    config = make_config(algorithm="wgan")
    assert (config.optimizer, config.lr, config.clip, config.n_critic, config.warmup) == (
        "rmsprop", 5e-5, 0.01, 5, True)


def test_wgan_gp_paper_defaults_are_adam_1e_4_betas_0_0_9_lambda_10_five_critic_steps_no_warmup():
    config = ALGORITHM_DEFAULTS["wgan-gp"]
    assert (config.optimizer, config.lr, config.beta1, config.beta2) == ("adam", 1e-4, 0.0, 0.9)
    assert (config.penalty_weight, config.n_critic, config.warmup) == (10.0, 5, False)


@pytest.mark.parametrize("algorithm", ["gan", "gan-ns"])
def test_gan_defaults_are_adam_2e_4_beta1_0_5_one_critic_step(algorithm):
    config = make_config(algorithm=algorithm)
    assert (config.optimizer, config.lr, config.beta1, config.n_critic, config.warmup) == (
        "adam", 2e-4, 0.5, 1, False)


def test_wgan_gp_is_the_default_algorithm():
    assert make_config().algorithm == "wgan-gp"
    assert make_config() == make_config(algorithm="wgan-gp")


@pytest.mark.parametrize("algorithm", sorted(ALGORITHM_DEFAULTS))
def test_every_algorithm_setting_left_unset_takes_the_algorithm_default(algorithm):
    config = make_config(algorithm=algorithm)
    defaults = ALGORITHM_DEFAULTS[algorithm]
    overrides = POINT_DATA_OVERRIDES.get(algorithm, {})
    for name in ("optimizer", "lr", "beta1", "beta2", "n_critic", "clip", "penalty_weight", "warmup"):
        assert getattr(config, name) == overrides.get(name, getattr(defaults, name)), name


def test_gradient_penalties_take_the_toy_codes_lambda_and_betas_on_point_data_and_the_papers_elsewhere():
    for data in ("8gaussians", "swissroll", "points.csv"):
        config = make_config(algorithm="wgan-gp", data=data)
        assert (config.penalty_weight, config.beta1, config.beta2, config.lr) == (0.1, 0.5, 0.9, 1e-3)
        assert config.lr_decay == "linear"
    from wgan.config import algorithm_defaults
    paper = algorithm_defaults("wgan-gp", "mnist")  # image data (WGAN-GP Algorithm 1)
    assert (paper.penalty_weight, paper.beta1, paper.beta2, paper.lr) == (10.0, 0.0, 0.9, 1e-4)
    assert paper.lr_decay == "none"


def test_toy_sets_and_point_files_are_points_and_image_sets_folders_and_image_arrays_are_images(tmp_path):
    assert all(data_kind(name) == "points" for name in TOY_DATASET_NAMES)
    assert data_kind("points.csv") == "points" and data_kind(tmp_path / "missing.npy") == "points"
    np.save(tmp_path / "points.npy", np.zeros((10, 3)))
    np.save(tmp_path / "images.npy", np.zeros((10, 8, 8), dtype=np.uint8))
    assert data_kind(tmp_path / "points.npy") == "points" and data_kind(tmp_path / "images.npy") == "images"
    for data in ("mnist", "digits", "cifar10", str(tmp_path), "faces.npz"):
        assert data_kind(data) == "images", data


def test_an_image_npy_that_is_truncated_or_of_objects_is_images_by_its_header(tmp_path):
    np.save(tmp_path / "whole.npy", np.zeros((10, 16, 16), dtype=np.uint8))
    whole = (tmp_path / "whole.npy").read_bytes()
    (tmp_path / "truncated.npy").write_bytes(whole[:-100])
    np.save(tmp_path / "objects.npy", np.full((10, 8, 8), None, dtype=object), allow_pickle=True)
    assert data_kind(tmp_path / "truncated.npy") == "images" and data_kind(tmp_path / "objects.npy") == "images"
    with pytest.raises(WganError, match=r"truncated.npy' is not a readable numpy file \(Failed to read all data"):
        build_sampler(make_config(data=str(tmp_path / "truncated.npy"), image_size=16).data, "cpu", image_size=16)
    with pytest.raises(WganError, match=r"objects.npy' holds Python objects, not pixels: save the images as numbers"):
        build_sampler(str(tmp_path / "objects.npy"), "cpu")


# ---------------------------------------------------------------------------------------- data and model defaults
def test_point_data_keeps_the_toy_codes_model_and_batch():
    config = make_config(data="25gaussians")
    assert (config.model, config.batch_size, config.latent_dim, config.width, config.depth) == ("mlp", 256, 2, 512, 3)
    assert config.image_size is None


def test_images_default_to_the_official_dcgan_setting_at_32x32():
    config = make_config(data="mnist", data_dir="somewhere", algorithm="wgan")
    assert (config.model, config.batch_size, config.latent_dim, config.width, config.image_size) == (
        "dcgan", 64, 100, 64, 32)
    assert (config.generator_norm, config.critic_norm) == ("batch", "batch")
    assert (config.optimizer, config.lr, config.clip) == ("rmsprop", 5e-5, 0.01)  # the paper's, not the toy code's
    assert make_config(data="digits").image_size == 16


def test_penalised_objectives_drop_batch_norm_from_the_critic_on_images_unless_asked():
    assert make_config(data="digits", algorithm="wgan-gp").critic_norm == "none"
    assert make_config(data="digits", algorithm="wgan-gp", critic_norm="layer").critic_norm == "layer"


def test_the_mlp_on_images_is_the_papers_four_layers_of_512():
    config = make_config(data="digits", model="mlp")
    assert (config.width, config.depth, config.generator_norm, config.critic_norm) == (512, 4, "none", "none")


def test_every_model_the_config_knows_has_a_builder_and_defaults():
    assert set(MODELS) == set(IMAGE_MODEL_DEFAULTS) == set(GENERATORS)
    assert {critic for _, critic in MODELS.values()} == set(CRITICS)


@pytest.mark.parametrize("settings, expected", [
    ({}, ("dcgan", "dcgan", "dcgan", 64, 64, 64, None)),
    ({"model": "dcgan-constant"}, ("dcgan-constant", "dcgan-constant", "dcgan", 64, 64, 64, None)),
    ({"generator_model": "mlp", "critic_model": "dcgan"}, (None, "mlp", "dcgan", None, 512, 64, 4)),
    ({"model": "dcgan", "generator_model": "mlp"}, (None, "mlp", "dcgan", None, 512, 64, 4)),
    ({"critic_model": "mlp"}, (None, "dcgan", "mlp", None, 64, 512, 4)),
    ({"generator_model": "mlp", "critic_model": "dcgan", "width": 32}, (None, "mlp", "dcgan", 32, 32, 32, 4)),
    ({"model": "mlp", "critic_width": 128}, ("mlp", "mlp", "mlp", None, 512, 128, 4)),
])
def test_each_network_takes_its_own_model_and_width_and_model_names_only_a_known_pair(settings, expected):
    config = make_config(data="mnist", data_dir="x", algorithm="wgan", **settings)
    assert (config.model, config.generator_model, config.critic_model, config.width, config.generator_width,
            config.critic_width, config.depth) == expected


def test_the_mlp_generator_keeps_no_norm_and_the_dcgan_critic_its_batch_norm_but_not_under_a_penalty():
    mixed = {"data": "mnist", "data_dir": "x", "generator_model": "mlp", "critic_model": "dcgan"}
    assert (make_config(algorithm="wgan", **mixed).generator_norm, make_config(algorithm="wgan", **mixed).critic_norm) \
        == ("none", "batch")
    assert make_config(algorithm="wgan-gp", **mixed).critic_norm == "none"
    resnet = make_config(data="mnist", data_dir="x", generator_model="resnet", critic_model="dcgan")
    assert (resnet.latent_dim, resnet.generator_width, resnet.critic_width) == (128, 128, 64)


def test_a_resolved_mixed_config_resolves_to_itself_through_toml(tmp_path):
    config = make_config(preset="mnist-wgan-mlp", data_dir="x")
    path = tmp_path / "run.toml"
    path.write_text(to_toml(config))
    assert make_config(path) == config


def test_the_mlp_presets_are_the_papers_fig_7_and_the_mlp_critic_ones_its_fig_3_failure_case():
    def networks(preset):
        config = make_config(preset=preset, data_dir="x")
        return config.algorithm, config.generator_model, config.critic_model, config.critic_norm

    assert networks("mnist-wgan-mlp") == ("wgan", "mlp", "dcgan", "batch")
    assert networks("mnist-gan-mlp") == ("gan", "mlp", "dcgan", "batch")
    assert networks("mnist-wgan-mlp-critic") == ("wgan", "mlp", "mlp", "none")
    assert networks("mnist-gan-mlp-critic") == ("gan", "mlp", "mlp", "none")


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_each_preset_resolves_and_later_settings_override_it(preset):
    config = make_config(preset=preset, data_dir="mnist-files")
    for name, value in PRESETS[preset].items():
        assert getattr(config, name) == value, name
    assert make_config(preset=preset, algorithm="wgan-gp", data_dir="x").algorithm == "wgan-gp"


def test_a_preset_in_the_file_is_applied_under_the_files_own_settings(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text('preset = "mnist-gan-mlp-critic"\nbatch_size = 32\n')
    config = make_config(path, data_dir="x")
    assert (config.model, config.algorithm, config.batch_size) == ("mlp", "gan", 32)


@pytest.mark.parametrize("settings, message", [
    ({"preset": "mnist-wgan-bn"}, "unknown preset"),
    ({"model": "vgg"}, "model 'vgg' is not known"),
    ({"model": "dcgan"}, "makes images, but data '8gaussians' is points"),
    ({"data": "digits", "image_size": 24}, "power of two"),
    ({"data": "digits", "model": "resnet"}, "resnet makes 32x32"),
    ({"data": "digits", "generator_norm": "layer"}, "generator_norm 'layer' is for MLPs"),
    ({"data": "digits", "generator_model": "vgg"}, "generator_model 'vgg' is not known"),
    ({"data": "digits", "critic_model": "dcgan-constant"}, "its critic is dcgan"),
    ({"critic_model": "dcgan"}, "critic_model 'dcgan' reads images, but data '8gaussians' is points"),
    ({"data": "digits", "critic_model": "resnet"}, "critic_model resnet reads 32x32"),
    ({"data": "digits", "critic_model": "mlp", "image_size": 24}, "power of two"),
    ({"data": "digits", "critic_width": 0}, "critic_width must be a positive"),
    ({"data": "digits", "image_size": 0}, "image_size must be a positive"),
    ({"max_minutes": -1.0}, "max_minutes must be 0"),
])
def test_bad_image_settings_name_the_problem(settings, message):
    with pytest.raises(WganError, match=message):
        make_config(**settings)


def test_data_dependent_defaults_are_declared_for_both_kinds_of_data():
    assert set(DATA_DEFAULTS) == {"points", "images"}


def test_explicit_settings_win_over_algorithm_defaults():
    config = make_config(algorithm="wgan", lr=1e-3, clip=0.05, n_critic=2, warmup=False, optimizer="adam")
    assert (config.lr, config.clip, config.n_critic, config.warmup, config.optimizer) == (
        1e-3, 0.05, 2, False, "adam")


def test_integer_given_for_a_float_setting_is_accepted_as_float():
    config = make_config(algorithm="wgan-gp", penalty_weight=5)
    assert config.penalty_weight == 5.0 and isinstance(config.penalty_weight, float)


# ------------------------------------------------------------------------------------------ files and flags
def _write(tmp_path, text, name="run.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_settings_are_read_from_a_toml_file(tmp_path):
    path = _write(tmp_path, 'algorithm = "wgan"\nlr = 2e-4\nbatch_size = 32\ndata = "25gaussians"\nwarmup = false\n')
    config = make_config(path)
    assert (config.algorithm, config.lr, config.batch_size, config.data, config.warmup) == (
        "wgan", 2e-4, 32, "25gaussians", False)
    assert config.clip == 0.01  # still the wgan default


def test_flags_win_over_the_file(tmp_path):
    path = _write(tmp_path, 'algorithm = "wgan"\nlr = 2e-4\nbatch_size = 32\n')
    config = make_config(path, lr=1e-3, algorithm="wgan-gp")
    assert (config.algorithm, config.lr, config.batch_size) == ("wgan-gp", 1e-3, 32)
    assert config.penalty_weight == 0.1  # the toy code's lambda, on the default 2-D data


def test_unset_flags_do_not_mask_the_file(tmp_path):
    path = _write(tmp_path, 'algorithm = "wgan"\nlr = 2e-4\n')
    config = make_config(path, lr=None, algorithm=None, batch_size=None)
    assert (config.algorithm, config.lr, config.batch_size) == ("wgan", 2e-4, DATA_DEFAULTS["points"]["batch_size"])


@pytest.mark.parametrize("settings", [
    {},
    {"algorithm": "wgan"},
    {"algorithm": "gan-ns", "critic_norm": "batch", "name": 'my "run" \\ x', "data": "/tmp/pts.npy"},
    {"algorithm": "wgan-lp", "lr": 3.3e-5, "beta2": 0.99, "precision": "bf16", "device": "cpu", "seed": 7},
])
def test_to_toml_round_trips_to_an_equal_config(tmp_path, settings):
    config = make_config(**settings)
    again = make_config(_write(tmp_path, to_toml(config)))
    assert again == config
    assert to_toml(again) == to_toml(config)


@pytest.mark.parametrize("data", ["points\tv2.npy", "new\nline.npy", "bell\x07.csv"])
def test_to_toml_round_trips_paths_with_control_characters(tmp_path, data):
    # runs.py writes config.toml with to_toml and resume reads it back: a legal file name must survive
    config = make_config(data=data)
    assert make_config(_write(tmp_path, to_toml(config))) == config


def test_to_toml_writes_every_setting_resolved_and_leaves_out_only_what_does_not_apply():
    text = to_toml(make_config(algorithm="wgan"))
    for field in dataclasses.fields(Config):
        assert (f"\n{field.name} = " in text) != (field.name == "image_size"), field.name  # points have no size
    assert 'optimizer = "rmsprop"' in text and "clip = 0.01" in text


# ------------------------------------------------------------------------------------------------- errors
def _error(*args, **kwargs) -> str:
    with pytest.raises(WganError) as info:
        make_config(*args, **kwargs)
    return str(info.value)


def test_unknown_algorithm_is_an_error_naming_it_and_the_choices():
    message = _error(algorithm="wgan-xx")
    assert "wgan-xx" in message and "wgan-gp" in message


def test_unknown_setting_in_overrides_is_an_error_naming_it():
    message = _error(learning_rate=1e-3)
    assert "learning_rate" in message


def test_misspelt_setting_gets_a_suggestion():
    assert "batch_size" in _error(batch_sise=12)


def test_unknown_setting_in_file_is_an_error_naming_it_and_the_file(tmp_path):
    path = _write(tmp_path, "iterations = 10\nbogus_key = 3\n")
    message = _error(path)
    assert "bogus_key" in message and str(path) in message


def test_wrong_type_in_file_is_an_error_naming_setting_and_value(tmp_path):
    message = _error(_write(tmp_path, 'lr = "fast"\n'))
    assert "lr" in message and "fast" in message and "float" in message


@pytest.mark.parametrize("name,value", [("batch_size", 12.5), ("batch_size", True), ("warmup", 1),
                                        ("data", 3), ("lr", False)])
def test_wrong_type_in_overrides_is_an_error_naming_setting(name, value):
    message = _error(**{name: value})
    assert name in message and repr(value) in message


@pytest.mark.parametrize("settings,name", [
    ({"lr": 0.0}, "lr"),
    ({"lr": -1e-4}, "lr"),
    ({"algorithm": "wgan", "clip": 0.0}, "clip"),
    ({"algorithm": "wgan", "clip": -0.01}, "clip"),
    ({"batch_size": 0}, "batch_size"),
    ({"batch_size": -8}, "batch_size"),
    ({"n_critic": 0}, "n_critic"),
    ({"algorithm": "wgan-gp", "penalty_weight": 0.0}, "penalty_weight"),
    ({"algorithm": "wgan-lp", "penalty_weight": -10.0}, "penalty_weight"),
    ({"iterations": 0}, "iterations"),
    ({"lr": float("nan")}, "lr"),
    ({"beta2": 1.0}, "beta2"),
    ({"warmup_generator_iters": -1}, "warmup_generator_iters"),
])
def test_non_positive_or_non_finite_numbers_are_errors_naming_the_setting(settings, name):
    message = _error(**settings)
    assert name in message and repr(settings[name]) in message


@pytest.mark.parametrize("settings", [{"penalty_weight": 1e300}, {"lr": 1e39},
                                      {"algorithm": "wgan", "clip": 5e38}])
def test_a_number_beyond_float32s_range_is_refused_not_blamed_on_the_learning_rate(settings):
    # penalty_weight 1e300 became inf in float32: three rollbacks, then "the learning rate is likely too high"
    (name, value), = ((key, value) for key, value in settings.items() if key != "algorithm")
    assert _error(**settings) == (f"{name} {value:g} is beyond float32's range (3.4e+38), in which training computes "
                                  "with it: every loss it scales would be infinite; give a smaller one")


def test_a_learning_rate_below_float32s_smallest_normal_number_is_refused():
    # 1e-45, 1e-300 and 5e-324 trained as a no-op, every run ending alike, without a word
    assert _error(lr=1e-45) == ("lr 1e-45 is below float32's smallest normal number (1.18e-38), in which the updates "
                                "are computed: they would vanish and train nothing; give a larger one")


def test_zero_clip_is_fine_for_algorithms_that_do_not_clip():
    assert make_config(algorithm="wgan-gp", clip=0.0).clip == 0.0


@pytest.mark.parametrize("algorithm", ["gan", "gan-ns", "wgan-gp", "wgan-lp"])
def test_a_clip_bound_for_an_algorithm_that_does_not_clip_is_an_error_not_ignored(algorithm):
    message = _error(algorithm=algorithm, clip=0.05)
    assert "clip 0.05 has no effect" in message and algorithm in message and "wgan" in message


@pytest.mark.parametrize("algorithm", ["gan", "gan-ns", "wgan"])
def test_a_penalty_weight_for_an_algorithm_without_a_penalty_is_an_error_not_ignored(algorithm):
    message = _error(algorithm=algorithm, penalty_weight=10)
    assert "penalty_weight 10" in message and algorithm in message and "wgan-gp" in message


@pytest.mark.parametrize("algorithm", ["wgan-gp", "wgan-lp"])
def test_batch_norm_critic_with_a_gradient_penalty_is_an_error(algorithm):
    message = _error(algorithm=algorithm, critic_norm="batch")
    assert "batch" in message and algorithm in message


def test_batch_norm_critic_is_allowed_without_a_penalty():
    assert make_config(algorithm="wgan", critic_norm="batch").critic_norm == "batch"


@pytest.mark.parametrize("device", ["tpu", "gpu", "", "CPU"])
def test_unknown_device_is_an_error_naming_it(device):
    message = _error(device=device)
    assert f"device '{device}'" in message


@pytest.mark.parametrize("device", ["cudafoo", "cuda:x", "cuda:"])
def test_malformed_cuda_device_is_an_error_naming_it(device):
    # "cuda" followed by anything but ":N" would later fail in torch.device with a RuntimeError traceback
    message = _error(device=device)
    assert f"device '{device}'" in message


@pytest.mark.parametrize("device", ["auto", "cpu", "cuda", "cuda:0", "cuda:3"])
def test_known_device_strings_are_accepted(device):
    assert make_config(device=device).device == device


@pytest.mark.parametrize("name,value", [("optimizer", "sgd"), ("activation", "gelu"), ("critic_norm", "group"),
                                        ("generator_norm", "spectral"), ("precision", "fp8")])
def test_unknown_choice_is_an_error_naming_it(name, value):
    message = _error(**{name: value})
    assert name in message and value in message


def test_invalid_toml_syntax_is_an_error_naming_the_file(tmp_path):
    path = _write(tmp_path, "lr = = 1\n")
    message = _error(path)
    assert str(path) in message and "TOML" in message


def test_a_config_file_that_is_not_utf8_says_so_not_which_toml_line_to_fix(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes('data = "donn\xe9es.csv"\n'.encode("latin-1"))
    message = _error(path)
    assert str(path) in message and "is not UTF-8 text (byte 12" in message and "line" not in message


def test_a_section_header_in_a_config_file_is_named_as_such(tmp_path):
    message = _error(_write(tmp_path, "[train]\nlr = 0.1\n"))  # it said "unknown setting 'train'"
    assert "has a section [train]: settings are plain `key = value` lines" in message


def test_a_wrong_type_reads_in_english(tmp_path):
    assert "warmup = 1 is an int, expected bool" in _error(_write(tmp_path, "warmup = 1\n"))


def test_numpy_scalars_are_taken_as_the_python_values_they_hold():
    # np.linspace's learning rates and np.arange's sizes were refused: "lr = np.float32(0.001) is a float32"
    config = make_config(lr=np.float32(0.5), iterations=np.int64(7), warmup=np.bool_(False))
    assert (config.lr, config.iterations, config.warmup) == (0.5, 7, False)
    assert type(config.lr) is float and type(config.iterations) is int
    with pytest.raises(WganError, match=r"iterations = 2\.5 is a float, expected int"):
        make_config(iterations=np.float64(2.5))


def test_missing_config_file_is_an_error_naming_the_path(tmp_path):
    path = tmp_path / "missing.toml"
    message = _error(path)
    assert str(path) in message and "does not exist" in message


def test_config_file_that_is_a_folder_is_an_error(tmp_path):
    assert str(tmp_path) in _error(tmp_path)


@pytest.mark.parametrize("name", ["a/b", "../up", "..", "."])
def test_run_name_that_is_not_a_plain_folder_name_is_an_error(name):
    message = _error(name=name)
    assert f"'{name}'" in message


def test_plain_run_name_is_accepted():
    assert make_config(name="baseline-1").name == "baseline-1"


def test_wgan_error_is_a_value_error():
    assert issubclass(WganError, ValueError)


def test_an_array_given_as_data_says_how_to_pass_it():
    # it said only "data is a ndarray, expected str"
    with pytest.raises(WganError, match=r"numpy.save\('data.npy', x\) \(x a numpy array of points .* and pass "
                                        r"data='data.npy'"):
        make_config(data=np.zeros((5, 2)))


def test_width_and_model_given_later_replace_the_per_network_settings_a_run_file_records(tmp_path):
    # a run's config.toml records generator_width and critic_width beside width: --width 32 trained at 16
    recorded = _write(tmp_path, to_toml(make_config(width=16)))
    assert (make_config(recorded, width=32).generator_width, make_config(recorded, width=32).critic_width) == (32, 32)
    images = _write(tmp_path, to_toml(make_config(data="digits", model="mlp", depth=2)), "images.toml")
    assert make_config(images, model="dcgan", depth=None).critic_model == "dcgan"
    mixed = make_config(images, model="dcgan", generator_model="mlp", depth=2)  # a part given with it stays
    assert (mixed.generator_model, mixed.critic_model) == ("mlp", "dcgan")


@pytest.mark.parametrize("edit, said", [
    (("\nwidth = 16", "\nwidth = 64"), "width = 64 but generator_width = 16 and critic_width = 16 override it"),
    (('\nmodel = "mlp"', '\nmodel = "dcgan"'),
     "model = 'dcgan' but generator_model = 'mlp' and critic_model = 'mlp' override it"),
])
def test_a_run_file_whose_width_or_model_alone_was_edited_is_refused_not_ignored(tmp_path, edit, said):
    text = to_toml(make_config(data="digits", model="mlp", width=16))
    assert edit[0] in text
    with pytest.raises(WganError, match=f"config file '.*edited.toml': {said} for both networks: change them too"):
        make_config(_write(tmp_path, text.replace(edit[0], edit[1]), "edited.toml"))


def test_a_preset_beside_a_file_that_sets_all_it_gives_is_refused_but_a_preset_runs_own_file_reads(tmp_path):
    preset_run = _write(tmp_path, to_toml(make_config(preset="mnist-wgan-gp", data_dir="mnist-files")), "p.toml")
    assert make_config(preset_run).preset == "mnist-wgan-gp"  # the run's record of its preset
    toy_run = _write(tmp_path, to_toml(make_config()), "toy.toml")
    with pytest.raises(WganError, match="preset mnist-wgan-gp has no effect: config file '.*toy.toml' sets every"):
        make_config(toy_run, preset="mnist-wgan-gp")  # it trained the toy and recorded the preset


@pytest.mark.parametrize("text, said", [
    ("max-minutes = 1\n", "unknown setting 'max-minutes' (did you mean max_minutes?)"),  # a flag's spelling
    ("LR = 0.1\n", "unknown setting 'LR' (did you mean lr?)"),
    ("lr = {value = 0.01}\n", "has a table as the value of lr"),  # it said "a section [lr]"
])
def test_a_key_spelt_as_a_flag_or_a_table_value_is_named_as_such(tmp_path, text, said):
    with pytest.raises(WganError, match=re.escape(said)):
        make_config(_write(tmp_path, text))


def test_a_byte_order_mark_a_pipe_and_a_home_folder_are_read_as_a_user_means_them(tmp_path, monkeypatch):
    assert make_config(_write(tmp_path, "\ufefflr = 0.01\n")).lr == 0.01  # editors on Windows write the mark
    reading, writing = os.pipe()  # --config <(printf 'lr = 0.02\n') names /dev/fd/N
    os.write(writing, b"lr = 0.02\n")
    os.close(writing)
    assert make_config(f"/dev/fd/{reading}").lr == 0.02
    os.close(reading)
    monkeypatch.setenv("HOME", str(tmp_path))
    np.save(tmp_path / "points.npy", np.random.default_rng(0).normal(size=(100, 2)))
    assert make_config(_write(tmp_path, 'data = "~/points.npy"\n')).data == str(tmp_path / "points.npy")


def test_an_error_in_a_piped_config_file_names_the_file(tmp_path, capsys):
    # the file is read again to say which settings it gave, and a pipe, read once, then gave none
    reading, writing = os.pipe()  # --config <(printf 'n_critic = 0\n')
    os.write(writing, b"n_critic = 0\n")
    os.close(writing)
    try:
        assert main(["train", "--config", f"/dev/fd/{reading}", "--out", str(tmp_path)]) == 2
    finally:
        os.close(reading)
    assert capsys.readouterr().err.strip().startswith(f"wgan: error: config file '/dev/fd/{reading}': n_critic ")
    reading, writing = os.pipe()  # another pipe, which may take the same /dev/fd/N: its own settings
    os.write(writing, b"lr = 0.03\n")
    os.close(writing)
    try:
        assert make_config(f"/dev/fd/{reading}").lr == 0.03
    finally:
        os.close(reading)


def test_a_decay_that_ends_before_its_recorded_start_names_the_line_to_delete():
    with pytest.raises(WganError, match="or an earlier lr_decay_start .a resumed run's config.toml records where"):
        make_config(lr_decay="linear", lr_decay_start=10, iterations=5)


def test_adam_for_wgan_takes_the_reference_codes_betas_not_rmsprops_zeros():
    # --algorithm wgan --optimizer adam ran Adam with betas (0, 0): a step of lr * g / |g|
    adam, rmsprop = make_config(algorithm="wgan", optimizer="adam"), make_config(algorithm="wgan")
    assert (adam.beta1, adam.beta2) == (0.5, 0.999) and (rmsprop.beta1, rmsprop.beta2) == (0.0, 0.0)
    assert make_config(algorithm="wgan", optimizer="adam", beta1=0.2).beta1 == 0.2


def test_a_setting_of_the_wrong_type_reads_alike_from_a_keyword_and_from_a_config():
    said = []
    for build in (lambda: make_config(iterations=2.0), lambda: wgan.train(Config(iterations=2.0), write=False)):
        with pytest.raises(WganError) as error:
            build()
        said.append(str(error.value))
    assert said == ["setting: iterations = 2.0 is a float, expected int"] * 2  # the first began "option:"


@pytest.mark.parametrize("value", ["[" * 2000 + "]" * 2000, "{x=" * 2000 + "1" + "}" * 2000])
def test_a_config_file_nested_too_deeply_is_one_line(tmp_path, value):
    (tmp_path / "deep.toml").write_text(f"a = {value}\n")  # tomllib's RecursionError, a traceback
    with pytest.raises(WganError, match=r"deep.toml' is not valid TOML \(its values nest too deeply\)"):
        make_config(tmp_path / "deep.toml")
