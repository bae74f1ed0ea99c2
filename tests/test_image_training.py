"""Images through the same pipeline as points: config -> image sampler -> DCGAN/MLP -> objective -> trainer ->
sample grids, progress GIF, curves, checkpoints; the time budget; image-specific bad input."""

import json
import shutil

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

import wgan
from wgan.cli import main
from wgan.config import make_config
from wgan.data import build_sampler
from wgan.metrics import evaluate
from wgan.objectives import build_objective
from wgan.runs import RunFolder

TINY_IMAGES = ["--data", "digits", "--width", "8", "--batch-size", "16", "--eval-samples", "100",
               "--log-every", "2", "--quiet"]


@pytest.fixture(scope="module")
def image_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    assert main(["train", *TINY_IMAGES, "--iterations", "4", "--eval-every", "2", "--out", str(out),
                 "--name", "digits"]) == 0
    return out / "digits"


def test_an_image_run_leaves_a_sample_grid_per_evaluation_a_progress_gif_and_curves(image_run):
    grids = sorted((image_run / "samples").glob("iter_*.png"))
    assert [grid.name for grid in grids] == ["iter_000002.png", "iter_000004.png"]
    assert Image.open(grids[0]).size == Image.open(grids[1]).size  # comparable frames
    gif = Image.open(image_run / "progress.gif")
    assert gif.format == "GIF" and gif.n_frames == 2
    assert (image_run / "curves.png").stat().st_size > 0
    assert {"latest.pt", "best.pt"} <= {path.name for path in (image_run / "checkpoints").iterdir()}


def test_an_image_run_evaluates_pixel_space_distances(image_run):
    rows = [json.loads(line) for line in (image_run / "metrics.jsonl").read_text().splitlines()]
    evaluation = [row for row in rows if "eval/w1" in row][-1]
    assert evaluation["eval/w1"] > 0 and evaluation["eval/sliced_w1"] > 0
    assert "eval/modes_covered" not in evaluation


def test_samples_of_an_image_run_are_images_in_the_generators_range(image_run, tmp_path):
    out = tmp_path / "samples.npy"
    assert main(["sample", "--run", str(image_run), "--n", "5", "--out", str(out)]) == 0
    samples = np.load(out)
    assert samples.shape == (5, 1, 16, 16) and np.abs(samples).max() <= 1


@pytest.mark.parametrize("model", ["mlp", "dcgan-constant"])
def test_other_generators_train_on_images_through_the_python_api(model):
    run = wgan.train(data="digits", model=model, algorithm="wgan", iterations=2, width=8, batch_size=8,
                     warmup=False, write=False, progress=False)
    assert run.sample(3).shape == (3, 1, 16, 16)


def test_a_time_budget_stops_training_early_and_resume_extends_it(tmp_path):
    settings = dict(data="8gaussians", width=8, depth=1, batch_size=16, eval_samples=50, log_every=1,
                    eval_every=1000, iterations=100000, out=str(tmp_path), name="budget", progress=False)
    run = wgan.train(max_minutes=0.0002, **settings)  # 12 ms of training
    assert 1 <= run.iteration < 100000
    first = run.iteration
    assert [row["iteration"] for row in run.history if "eval/w1" in row] == [first]  # evaluated where it stopped
    with pytest.raises(wgan.WganError, match=r"after 0\.00\d*[1-9]\d* minutes of training: pass a larger "
                                             "--max-minutes"):  # it said "after 0.0 minutes"
        wgan.resume(tmp_path / "budget", progress=False)
    resumed = wgan.resume(tmp_path / "budget", max_minutes=0.02, progress=False)
    assert resumed.iteration > first
    assert resumed.history[-2]["time/train_minutes"] > 0.0002  # the clock went on from the first budget


def test_a_named_image_set_without_its_data_dir_is_one_line_and_leaves_no_run_folder(tmp_path, capsys):
    assert main(["train", "--data", "mnist", "--out", str(tmp_path), "--quiet"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("wgan: error:") and "data_dir" in error and error.count("\n") == 1
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("data, said", [("digits", "comes with scikit-learn"), ("faces.npy", "is read from that path")])
def test_a_data_dir_that_image_data_would_not_read_is_refused(tmp_path, capsys, data, said):
    # it was ignored, recorded, and then blocked the finished run's resume and eval as "data moved"
    np.save(tmp_path / "faces.npy", np.zeros((4, 8, 8), np.uint8))
    data = data if data == "digits" else str(tmp_path / data)
    assert main(["train", "--data", data, "--data-dir", "/nowhere", "--out", str(tmp_path / "runs"), "--quiet"]) == 2
    assert capsys.readouterr().err.strip() == f"wgan: error: data_dir '/nowhere' has no effect: data '{data}' {said}" \
        + (", which needs no files; leave it out" if data == "digits" else " alone; leave it out")
    assert not (tmp_path / "runs").exists()


def test_a_run_folder_inside_the_folder_of_images_it_trains_on_is_refused(tmp_path, capsys, monkeypatch):
    # `wgan train --data .` wrote runs/ into the data, and its figures became training images
    for index in range(2):
        Image.fromarray(np.full((8, 8), 40 * index, np.uint8)).save(tmp_path / f"{index}.png")
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--data", ".", "--image-size", "16", "--iterations", "2", "--quiet"]) == 2
    assert capsys.readouterr().err.strip() == (
        f"wgan: error: out 'runs' lies inside the folder of images '{tmp_path.resolve()}' that the run trains on: "
        "its figures would become training data; choose an out folder outside it (--out)")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["0.png", "1.png"]
    # "folder" without its data_dir was taken for the working directory, and this message given instead of that one
    assert main(["train", "--data", "folder", "--image-size", "16", "--iterations", "2", "--quiet"]) == 2
    assert "dataset 'folder' (a folder of images; data_dir is the folder) needs data_dir" in capsys.readouterr().err


def test_a_grey_folder_trains_one_channel_and_a_run_that_read_it_as_rgb_still_resumes(tmp_path, capsys):
    # grey folders trained as RGB before; runs made then record three channels, which they keep
    folder = tmp_path / "pictures"
    folder.mkdir()
    for index in range(3):
        Image.fromarray(np.full((8, 8), 60 * index, np.uint8)).save(folder / f"{index}.png")
    settings = ["--data", str(folder), "--image-size", "16", "--width", "8", "--batch-size", "4",
                "--eval-samples", "8", "--eval-every", "2", "--quiet", "--out", str(tmp_path / "runs")]
    assert main(["train", *settings, "--iterations", "2", "--name", "grey"]) == 0
    assert torch.load(tmp_path / "runs/grey/checkpoints/latest.pt")["sample_shape"] == [1, 16, 16]
    Image.fromarray(np.full((8, 8, 3), (0, 0, 255), np.uint8)).save(folder / "blue.png")
    assert main(["train", *settings, "--iterations", "2", "--name", "was_rgb"]) == 0
    (folder / "blue.png").unlink()  # the folder is grey again, as one that an older version read as RGB
    assert main(["train", "--resume", str(tmp_path / "runs/was_rgb"), "--iterations", "4", "--quiet"]) == 0
    assert torch.load(tmp_path / "runs/was_rgb/checkpoints/latest.pt")["iteration"] == 4
    assert main(["eval", "--run", str(tmp_path / "runs/was_rgb"), "--samples", "8"]) == 0
    out = tmp_path / "samples.npy"
    assert main(["sample", "--run", str(tmp_path / "runs/was_rgb"), "--n", "2", "--out", str(out)]) == 0
    assert np.load(out).shape == (2, 3, 16, 16)
    assert "the data" in capsys.readouterr().err  # the resume's line: the folder changed since the run started


def test_a_run_that_recorded_a_data_dir_its_data_never_read_is_still_evaluated(image_run, tmp_path, capsys):
    # runs made before such a data_dir was refused: their eval and resume said the data had moved
    run = tmp_path / "old"
    shutil.copytree(image_run, run)
    config = run / "config.toml"
    config.write_text(config.read_text().replace('data_dir = ""', 'data_dir = "/nowhere"'))
    assert 'data_dir = "/nowhere"' in config.read_text()
    assert main(["eval", "--run", str(run), "--samples", "100"]) == 0, capsys.readouterr().err


def test_a_dcgan_on_points_is_refused_with_the_fix(tmp_path, capsys):
    assert main(["train", "--model", "dcgan", "--out", str(tmp_path), "--quiet"]) == 2
    assert "(--model mlp)" in capsys.readouterr().err


def test_labelled_images_are_scored_by_the_datasets_classifier_against_held_out_images(image_run):
    rows = [json.loads(line) for line in (image_run / "metrics.jsonl").read_text().splitlines()]
    evaluation = [row for row in rows if "eval/fd" in row][-1]
    assert evaluation["eval/fd"] > 0 and evaluation["eval/classes_total"] == 10
    assert 0 <= evaluation["eval/classes_covered"] <= 10 and 0.1 <= evaluation["eval/confidence"] <= 1
    assert evaluation["eval/class_kl"] >= 0
    assert 0 <= evaluation["eval/precision"] <= 1 and 0 <= evaluation["eval/coverage"] <= 1
    card = json.loads((image_run / "metric_card.json").read_text())  # what these scores compare with
    assert card["generated"]["count"] == 100 and len(card["feature_extractor"]["weights_sha256"]) == 64


def test_eval_command_scores_an_image_run_with_the_classifier(image_run, capsys):
    assert main(["eval", "--run", str(image_run), "--samples", "200"]) == 0
    scores = json.loads((image_run / "eval_best.json").read_text())
    assert scores["fd"] > 0 and scores["classes_total"] == 10 and scores["w1"] > 0
    assert scores["metric_card"]["generated"]["count"] == 200 and scores["generator"] == "generator"


def test_too_few_samples_for_the_image_scores_name_the_flag_and_the_python_keyword(image_run):
    with pytest.raises(wgan.WganError) as refused:  # it named --samples alone to a Python caller
        wgan.evaluate_run(image_run, samples=2)
    assert str(refused.value).endswith("or more (samples= in Python)") and "pass --samples " in str(refused.value)
    with pytest.raises(wgan.WganError) as refused:
        wgan.train(write=False, progress=False, data="digits", width=8, batch_size=16, eval_samples=2, iterations=1)
    assert str(refused.value).endswith("or more (eval_samples= in Python)")


def test_generated_images_beyond_minus_1_1_are_scored_clipped_as_an_image_file_holds_them():
    """The reference MLP generator has no output tanh: its images are scored as saved, not refused."""
    sampler = build_sampler("digits", torch.device("cpu"), image_size=16)
    generator = nn.Sequential(nn.Linear(4, 256), nn.Unflatten(1, (1, 16, 16)))
    with torch.no_grad():
        generator[0].weight.mul_(50)  # outputs far outside [-1, 1]
    critic = nn.Sequential(nn.Flatten(), nn.Linear(256, 1))
    seen = {}

    def scorer(images):
        seen.update(low=images.min().item(), high=images.max().item())
        return {}

    result = evaluate(generator, critic, build_objective(make_config(algorithm="wgan")), sampler, 4, 64, seed=0,
                      batch_size=64, scorer=scorer)
    assert seen["low"] == -1 and seen["high"] == 1
    assert np.abs(result.fake).max() == 1 and result.scalars["w1"] > 0


def test_labelled_images_too_few_for_the_scores_reference_are_one_line_before_any_folder(tmp_path, capsys):
    # it failed inside the classifier's training or the reference's statistics, naming their arguments
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "few.npz", images=rng.integers(0, 256, (25, 8, 8), dtype=np.uint8), labels=np.arange(25) % 10)
    assert main(["train", "--data", str(tmp_path / "few.npz"), "--iterations", "2", "--out", str(tmp_path / "runs"),
                 "--quiet"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.endswith("has too few labelled images for the image scores: their reference, the held-out 20% of "
                          "the images, holds 5 and needs at least 6: add images, or save the data without its labels "
                          "(the run is then scored in pixel space alone)") and len(error.splitlines()) == 1
    assert not (tmp_path / "runs").exists()


def test_a_run_of_data_folder_or_array_is_named_after_the_folder_or_file_its_data_dir_gives(tmp_path):
    # both were named wgan-gp-folder and wgan-gp-array, whatever they read
    images = np.random.default_rng(0).integers(0, 256, (8, 8, 8), dtype=np.uint8)
    np.save(tmp_path / "faces.npy", images)
    settings = dict(iterations=1, eval_every=1, eval_samples=16, batch_size=8, width=8, out=str(tmp_path / "runs"),
                    progress=False)
    assert wgan.train(data="array", data_dir=str(tmp_path / "faces.npy"), **settings).path.name == "wgan-gp-faces"
    (tmp_path / "portraits").mkdir()
    for index, image in enumerate(images):
        Image.fromarray(image).save(tmp_path / "portraits" / f"{index}.png")
    assert wgan.train(data="folder", data_dir=str(tmp_path / "portraits"), **settings).path.name == \
        "wgan-gp-portraits"


@pytest.mark.parametrize("data_dir, named", [("/", "wgan-gp-folder"), (".", "wgan-gp-work"), ("work/.", "wgan-gp-work"),
                                             ("work/..", "wgan-gp-" + "{parent}")])
def test_a_data_folder_given_as_the_root_dot_or_dot_dot_still_names_the_run(tmp_path, monkeypatch, data_dir, named):
    # "/" named the run wgan-gp- and "." wgan-gp-, from names that a path's last part does not hold
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work" if data_dir == "." else tmp_path)
    config = wgan.make_config(data="folder", data_dir=data_dir, out=str(tmp_path / "runs"))
    folder = RunFolder.create(config)
    folder.close()
    assert folder.path.name == named.format(parent=tmp_path.name)


def test_a_data_folder_given_by_a_link_names_the_run_after_the_link(tmp_path):
    (tmp_path / "cifar-10-batches-py").mkdir()
    (tmp_path / "cifar").symlink_to(tmp_path / "cifar-10-batches-py")
    config = wgan.make_config(data="folder", data_dir=str(tmp_path / "cifar"), out=str(tmp_path / "runs"))
    folder = RunFolder.create(config)
    folder.close()
    assert folder.path.name == "wgan-gp-cifar"
