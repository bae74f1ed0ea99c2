"""Offline image datasets: every loader on files the test writes, the sampler, and the user-facing errors."""

from __future__ import annotations

import gzip
import os
import pickle
import re
import struct
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from wgan.data import data_kind, fingerprint
from wgan.data import images as images_module
from wgan.data.images import (
    FIRST_LABELS,
    IMAGE_DATASETS,
    ImageSampler,
    ImageSet,
    build_image_sampler,
    find_mnist_files,
    load_array,
    load_cifar10_dir,
    load_digits,
    list_images,
    load_idx,
    load_image_folder,
    load_mnist_dir,
)
from wgan.errors import WganError

RNG = np.random.default_rng(0)


# --- helpers that write files in the formats the loaders read ---------------------------------------------------

def write_idx_images(path, pixels, gz=False, count=None):
    count = len(pixels) if count is None else count
    raw = struct.pack(">IIII", 2051, count, *pixels.shape[1:]) + pixels.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(raw) if gz else raw)
    return path


def write_idx_labels(path, labels, gz=False):
    raw = struct.pack(">II", 2049, len(labels)) + np.asarray(labels, dtype=np.uint8).tobytes()
    path.write_bytes(gzip.compress(raw) if gz else raw)
    return path


def write_mnist_dir(directory, gz, n_train=6, n_test=3):
    directory.mkdir(exist_ok=True)
    suffix = ".gz" if gz else ""
    data = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        pixels = RNG.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = RNG.integers(0, 10, n)
        write_idx_images(directory / f"{prefix}-images-idx3-ubyte{suffix}", pixels, gz)
        write_idx_labels(directory / f"{prefix}-labels-idx1-ubyte{suffix}", labels, gz)
        data[prefix] = (pixels, labels)
    return data


def write_cifar_batch(path, n, protocol=pickle.DEFAULT_PROTOCOL):
    data = RNG.integers(0, 256, (n, 3072), dtype=np.uint8)
    labels = [int(v) for v in RNG.integers(0, 10, n)]
    with open(path, "wb") as f:
        pickle.dump({b"batch_label": b"testing", b"data": data, b"labels": labels}, f, protocol=protocol)
    return data, labels


def save_image(path, array, mode=None):
    Image.fromarray(array, mode=mode).save(path)


# --- IDX -----------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gzip"])
def test_idx_round_trips_pixels_and_labels(tmp_path, gz):
    pixels = RNG.integers(0, 256, (5, 4, 3), dtype=np.uint8)
    labels = [3, 1, 4, 1, 5]
    suffix = ".gz" if gz else ""
    image_set = load_idx(write_idx_images(tmp_path / f"img{suffix}", pixels, gz),
                         write_idx_labels(tmp_path / f"lab{suffix}", labels, gz))
    assert image_set.images.dtype == torch.uint8
    assert image_set.images.shape == (5, 1, 4, 3)
    np.testing.assert_array_equal(image_set.images[:, 0].numpy(), pixels)
    assert image_set.labels.dtype == torch.int64
    assert image_set.labels.tolist() == labels


@pytest.mark.parametrize("files, asked, split", [("mnist", "fashion-mnist", "train"),
                                                  ("fashion-mnist", "mnist", "test")])
def test_mnist_and_fashion_mnist_files_are_told_apart_by_their_first_labels(tmp_path, files, asked, split):
    # the two share file names, shapes and labels 0-9: MNIST's files given as fashion-mnist trained on digits
    prefix = {"train": "train", "test": "t10k"}[split]
    write_mnist_dir(tmp_path, gz=False, n_train=12, n_test=12)
    write_idx_labels(tmp_path / f"{prefix}-labels-idx1-ubyte", FIRST_LABELS[files][split] + [0, 1])
    assert load_mnist_dir(tmp_path, split, name=files).labels.tolist()[:10] == FIRST_LABELS[files][split]
    with pytest.raises(WganError, match=rf"the {split} files in .* are {files}'s \(their first labels are {files}'s\), "
                                        rf"not {asked}'s: use --data {files}"):
        load_mnist_dir(tmp_path, split, name=asked)


def test_idx_images_without_labels_have_no_labels(tmp_path):
    image_set = load_idx(write_idx_images(tmp_path / "img", np.zeros((2, 3, 3), np.uint8)))
    assert image_set.labels is None


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gzip"])
def test_mnist_dir_finds_train_and_t10k_files_by_their_standard_names(tmp_path, gz):
    data = write_mnist_dir(tmp_path / "mnist", gz)
    train = load_mnist_dir(tmp_path / "mnist", "train")
    test = load_mnist_dir(tmp_path / "mnist", split="test")
    assert train.images.shape == (6, 1, 28, 28) and test.images.shape == (3, 1, 28, 28)
    np.testing.assert_array_equal(test.images[:, 0].numpy(), data["t10k"][0])
    assert train.labels.tolist() == data["train"][1].tolist()
    assert train.name == "mnist-train" and test.name == "mnist-test"


def test_truncated_gzip_is_an_error_saying_re_copy(tmp_path):
    path = write_idx_images(tmp_path / "train-images-idx3-ubyte.gz", np.zeros((4, 28, 28), np.uint8), gz=True)
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(WganError, match=r"train-images-idx3-ubyte\.gz.*truncated or not gzip.*re-copy"):
        load_idx(path)


def test_gz_name_on_a_file_that_is_not_gzip_is_an_error(tmp_path):
    path = tmp_path / "images.gz"
    path.write_bytes(b"this is not gzip data at all")
    with pytest.raises(WganError, match="truncated or not gzip"):
        load_idx(path)


def test_wrong_idx_magic_names_both_magic_numbers(tmp_path):
    labels = write_idx_labels(tmp_path / "train-labels-idx1-ubyte", [1, 2, 3])
    with pytest.raises(WganError, match=r"train-labels-idx1-ubyte.*magic number 2049.*labels file.*expected 2051"):
        load_idx(labels)


def test_header_count_larger_than_payload_names_the_file_and_both_sizes(tmp_path):
    path = write_idx_images(tmp_path / "img", np.zeros((5, 4, 4), np.uint8), count=10)
    with pytest.raises(WganError, match=r"'.*img'.*10 x 4 x 4 = 160 bytes.*holds 80.*truncated"):
        load_idx(path)


def test_label_count_must_match_image_count(tmp_path):
    images = write_idx_images(tmp_path / "img", np.zeros((4, 2, 2), np.uint8))
    labels = write_idx_labels(tmp_path / "lab", [1, 2, 3])
    with pytest.raises(WganError, match="3 labels.*4 images"):
        load_idx(images, labels)


def test_mnist_dir_without_files_lists_the_names_looked_for(tmp_path):
    with pytest.raises(WganError, match=r"t10k-images-idx3-ubyte, t10k-images-idx3-ubyte\.gz"):
        load_mnist_dir(tmp_path, "test")


def test_mnist_files_are_found_raw_or_gzip_without_reading_them_and_a_missing_one_is_named(tmp_path):
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(b"")  # empty: not IDX, so found without being read
    with pytest.raises(WganError, match=r"^no mnist test labels file in .*t10k-labels-idx1-ubyte\.gz; copy"):
        find_mnist_files(tmp_path, "test")
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(b"")
    assert find_mnist_files(tmp_path, "test") == (tmp_path / "t10k-images-idx3-ubyte",
                                                   tmp_path / "t10k-labels-idx1-ubyte.gz")


def test_missing_directory_is_an_error_naming_it(tmp_path):
    missing = tmp_path / "nowhere"
    for load in (lambda: load_mnist_dir(missing), lambda: load_cifar10_dir(missing),
                 lambda: load_image_folder(missing, 8)):
        with pytest.raises(WganError, match=r"nowhere.*does not exist") as error:
            load()
        assert "relative paths start" not in str(error.value)


def test_a_missing_relative_directory_says_where_relative_paths_start(tmp_path, monkeypatch):
    # README's ../shared/data/mnist holds from the project's root alone; the message did not say where it looked
    monkeypatch.chdir(tmp_path)
    with pytest.raises(WganError) as error:
        load_mnist_dir("../shared/data/mnist")
    assert str(error.value).endswith(f"check the path (relative paths start in {tmp_path})")


def test_unknown_split_is_an_error(tmp_path):
    with pytest.raises(WganError, match="split 'valid'"):
        load_mnist_dir(tmp_path, "valid")


# --- CIFAR-10 ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("protocol", [2, pickle.DEFAULT_PROTOCOL])
def test_cifar_batches_unpack_channel_major_rows(tmp_path, protocol):
    batches = [write_cifar_batch(tmp_path / f"data_batch_{i}", 2, protocol) for i in range(1, 6)]
    write_cifar_batch(tmp_path / "test_batch", 3, protocol)
    train = load_cifar10_dir(tmp_path, "train")
    assert train.images.shape == (10, 3, 32, 32) and train.images.dtype == torch.uint8
    data = np.concatenate([d for d, _ in batches])
    i, c, y, x = 7, 2, 5, 30  # row layout: 1024 red, 1024 green, 1024 blue, each 32 x 32 row-major
    assert train.images[i, c, y, x].item() == data[i, c * 1024 + y * 32 + x]
    np.testing.assert_array_equal(train.images.reshape(10, -1).numpy(), data)
    assert train.labels.tolist() == sum((lab for _, lab in batches), [])
    assert load_cifar10_dir(tmp_path, "test").images.shape == (3, 3, 32, 32)


def test_cifar_accepts_the_folder_the_archive_was_extracted_into(tmp_path):
    (tmp_path / "cifar-10-batches-py").mkdir()
    write_cifar_batch(tmp_path / "cifar-10-batches-py" / "test_batch", 2)
    assert load_cifar10_dir(tmp_path, "test").images.shape == (2, 3, 32, 32)


def test_cifar_missing_batches_are_listed(tmp_path):
    write_cifar_batch(tmp_path / "data_batch_1", 2)
    with pytest.raises(WganError, match=r"looked for data_batch_1, .*data_batch_5, missing data_batch_2"):
        load_cifar10_dir(tmp_path, "train")


class _RunsCode:
    def __reduce__(self):
        return (os.getcwd, ())  # harmless if it ever ran; the unpickler must refuse to look it up at all


def test_cifar_unpickler_refuses_globals_other_than_numpy_arrays(tmp_path):
    with open(tmp_path / "test_batch", "wb") as f:
        pickle.dump({b"data": _RunsCode(), b"labels": []}, f)
    with pytest.raises(WganError, match=r"test_batch.*not a readable CIFAR-10 batch.*getcwd is not allowed"):
        load_cifar10_dir(tmp_path, "test")


def test_cifar_batch_with_wrong_contents_is_an_error(tmp_path):
    with open(tmp_path / "test_batch", "wb") as f:
        pickle.dump({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}, f)
    with pytest.raises(WganError, match=r"b'data' is uint8 \(2, 100\), expected uint8 \(N, 3072\)"):
        load_cifar10_dir(tmp_path, "test")


# --- folders of images ---------------------------------------------------------------------------------------------

def make_image_folder(root):
    """Mixed modes and sizes; returns the RGB arrays expected for the 8x8 files, in load order."""
    root.mkdir()
    gray = RNG.integers(0, 256, (8, 8), dtype=np.uint8)
    rgb = RNG.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    rgba = RNG.integers(0, 256, (8, 8, 4), dtype=np.uint8)
    rgba[:, :, 3] = 255  # opaque (transparency: test_transparent_pixels_are_white_not_the_colour_they_hide)
    wide = RNG.integers(0, 256, (8, 24, 3), dtype=np.uint8)  # 24 wide, 8 high: centre crop, no resize
    save_image(root / "a_gray.png", gray)
    save_image(root / "b_rgb.png", rgb)
    save_image(root / "c_rgba.png", rgba)
    palette = Image.fromarray(rgb).quantize(colors=16)
    palette.save(root / "d_palette.png")
    save_image(root / "e_wide.png", wide)
    (root / "sub").mkdir()
    save_image(root / "sub" / "f_photo.jpg", RNG.integers(0, 256, (30, 20, 3), dtype=np.uint8))
    save_image(root / "sub" / "g_small.jpeg", RNG.integers(0, 256, (5, 7), dtype=np.uint8))
    (root / "notes.txt").write_text("not an image, skipped")
    expected = [np.repeat(gray[:, :, None], 3, axis=2), rgb, rgba[:, :, :3],
                np.asarray(palette.convert("RGB")), wide[:, 8:16]]
    return expected


def test_folder_loads_every_image_recursively_and_round_trips_unresized_ones(tmp_path):
    expected = make_image_folder(tmp_path / "imgs")
    image_set = load_image_folder(tmp_path / "imgs", 8)
    assert image_set.images.shape == (7, 3, 8, 8) and image_set.images.dtype == torch.uint8
    assert image_set.labels is None
    for i, array in enumerate(expected):
        np.testing.assert_array_equal(image_set.images[i].permute(1, 2, 0).numpy(), array)


def test_folder_resizes_short_side_then_centre_crops(tmp_path):
    make_image_folder(tmp_path / "imgs")
    image_set = load_image_folder(tmp_path / "imgs", 6, channels=1)
    assert image_set.images.shape == (7, 1, 6, 6)
    # A horizontal ramp keeps its order after resize + crop: the crop is the middle of the image.
    ramp = np.tile(np.linspace(0, 255, 40).astype(np.uint8), (20, 1))
    (tmp_path / "ramp").mkdir()
    save_image(tmp_path / "ramp" / "ramp.png", ramp)
    row = load_image_folder(tmp_path / "ramp", 10, channels=1).images[0, 0, 5].numpy().astype(int)
    assert np.all(np.diff(row) > 0) and abs((row[4] + row[5]) / 2 - 127.5) < 8


def test_folder_of_grayscale_images_round_trips_with_one_channel(tmp_path):
    (tmp_path / "g").mkdir()
    gray = RNG.integers(0, 256, (3, 8, 8), dtype=np.uint8)
    for i in range(3):
        save_image(tmp_path / "g" / f"{i}.png", gray[i])
    np.testing.assert_array_equal(load_image_folder(tmp_path / "g", 8, channels=1).images[:, 0].numpy(), gray)


def test_a_folder_of_grey_images_loads_with_one_channel_unless_one_image_has_colour(tmp_path):
    # grey folders trained as RGB: three equal channels for every model to learn, while their .npy had one
    grey = RNG.integers(0, 256, (3, 8, 8), dtype=np.uint8)
    (tmp_path / "g").mkdir()
    save_image(tmp_path / "g" / "0.png", grey[0])  # mode L
    save_image(tmp_path / "g" / "1.png", np.repeat(grey[1][:, :, None], 3, axis=2))  # RGB of a grey picture
    Image.fromarray(grey[2].astype(np.uint16) * 257).save(tmp_path / "g" / "2.png")  # 16-bit grey
    for cache_dir in (None, tmp_path / "cache"):
        loaded = load_image_folder(tmp_path / "g", 8, cache_dir=cache_dir).images
        assert loaded.shape == (3, 1, 8, 8)
        np.testing.assert_array_equal(loaded[:, 0].numpy(), grey)
    colour = grey[0][:, :, None].repeat(3, axis=2)
    colour[0, 0, 2] ^= 1  # one pixel a shade off grey
    save_image(tmp_path / "g" / "3.png", colour)
    assert load_image_folder(tmp_path / "g", 8).images.shape == (4, 3, 8, 8)
    assert load_image_folder(tmp_path / "g", 8, channels=1).images.shape == (4, 1, 8, 8)


@pytest.mark.parametrize("mode", ["RGBA", "LA", "P"])
def test_transparent_pixels_are_white_not_the_colour_they_hide(tmp_path, mode):
    # the alpha channel was dropped: a sprite's transparent background showed the black it held
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[:, :4] = (200, 200, 200, 255)  # opaque light grey on the left, transparent black on the right
    rgba[0, 4] = (0, 0, 0, 128)  # half-transparent black over white: mid grey
    (tmp_path / "sprites").mkdir()
    image = Image.fromarray(rgba, "RGBA")
    if mode == "LA":
        image = image.convert("LA")
    elif mode == "P":  # a palette with one colour key for the transparent pixels
        image = Image.fromarray(rgba[:, :, 0], "L").convert("P")
        image.info["transparency"] = 0
    image.save(tmp_path / "sprites" / "sprite.png")
    pixels = load_image_folder(tmp_path / "sprites", 8, channels=1).images[0, 0].numpy()
    assert (pixels[:, :4] == 200).all() and (pixels[1:, 4:] == 255).all()
    if mode != "P":
        assert abs(int(pixels[0, 4]) - 127) <= 1


@pytest.mark.parametrize("mode", ["LA", "RGBA"])
def test_white_shapes_on_a_transparent_background_are_refused_saying_transparent_pixels_are_drawn_on_white(
        tmp_path, mode):
    # white-on-transparent glyphs decoded to blank white images, and trained without a word
    (tmp_path / "glyphs").mkdir()
    for index in range(3):
        white_and_shape = np.stack([np.full((8, 8), 255, np.uint8), RNG.integers(0, 256, (8, 8), dtype=np.uint8)], -1)
        Image.fromarray(white_and_shape, "LA").convert(mode).save(tmp_path / "glyphs" / f"{index}.png")
    with pytest.raises(WganError) as error:
        load_image_folder(tmp_path / "glyphs", 8)
    assert re.search(r"every one of the 3 images in the folder '.*glyphs' decodes to one flat colour: their "
                     r"transparent pixels are drawn on white, .* save them as shapes on an opaque background",
                     str(error.value)) and "\n" not in str(error.value)


def test_images_all_of_one_flat_colour_are_refused_and_flat_images_of_several_colours_are_data(tmp_path):
    # an array or a folder of blank images trained without a word
    np.save(tmp_path / "blank.npy", np.zeros((5, 8, 8), np.uint8))
    with pytest.raises(WganError, match=r"every one of the 5 images in file '.*blank\.npy' is the same flat colour "
                                        r"\(pixel values 0\), with nothing to learn"):
        load_array(tmp_path / "blank.npy")
    (tmp_path / "white").mkdir()
    for index in range(2):
        save_image(tmp_path / "white" / f"{index}.png", np.full((8, 8, 3), 255, np.uint8))
    with pytest.raises(WganError, match=r"2 images in the folder .* same flat colour \(pixel values 255, 255, 255\)"):
        load_image_folder(tmp_path / "white", 8, channels=3)
    np.save(tmp_path / "shades.npy", np.arange(0, 250, 50, dtype=np.uint8)[:, None, None].repeat(8, 1).repeat(8, 2))
    assert load_array(tmp_path / "shades.npy").images.shape == (5, 1, 8, 8)
    (tmp_path / "swatches").mkdir()  # opaque RGBA, as many tools save PNGs: refused as transparent glyphs once
    for index, colour in enumerate([(255, 0, 0, 255), (0, 255, 0, 255), (20, 30, 40, 255)]):
        Image.new("RGBA", (8, 8), colour).save(tmp_path / "swatches" / f"{index}.png")
    assert load_image_folder(tmp_path / "swatches", 8).images.shape == (3, 3, 8, 8)


def test_a_grey_set_drawn_for_a_run_built_for_rgb_repeats_its_channel(tmp_path):
    # runs that read a grey folder as RGB before grey folders had one channel resume on it
    grey = ImageSet(images=torch.arange(2 * 16, dtype=torch.uint8).reshape(2, 1, 4, 4), labels=None, name="g")
    sampler = ImageSampler(grey, "cpu", channels=3)
    assert sampler.shape == (3, 4, 4)
    batch = sampler.sample(5, torch.Generator().manual_seed(0))
    assert batch.shape == (5, 3, 4, 4) and torch.equal(batch[:, 0], batch[:, 2])
    rgb = ImageSet(images=torch.zeros(2, 3, 4, 4, dtype=torch.uint8), labels=None, name="rgb")
    with pytest.raises(WganError, match="image set 'rgb' has 3 channels, the run's networks 1: the data changed"):
        ImageSampler(rgb, "cpu", channels=1)


@pytest.mark.parametrize("white, dtype, suffix", [(65535, np.uint16, ".png"), (65535, np.int32, ".tif"),
                                                  (1.0, np.float32, ".tif")])
def test_grey_images_deeper_than_8_bits_are_scaled_to_8_bits_not_clipped(tmp_path, white, dtype, suffix):
    # Pillow's conversion to 8 bits clipped a 16-bit ramp to white above 255 and a float one to black
    ramp = np.tile(np.linspace(0, 255, 8), (8, 1))
    (tmp_path / "deep").mkdir()
    Image.fromarray((ramp / 255 * white).astype(dtype)).save(tmp_path / "deep" / f"ramp{suffix}")
    decoded = load_image_folder(tmp_path / "deep", 8, channels=1).images[0, 0].numpy()
    np.testing.assert_allclose(decoded, np.rint(ramp), atol=1)


def test_float_grey_images_outside_0_to_1_are_refused_naming_their_range(tmp_path):
    (tmp_path / "deep").mkdir()
    Image.fromarray(np.full((8, 8), 2.5, np.float32)).save(tmp_path / "deep" / "bright.tif")
    with pytest.raises(WganError, match=r"bright\.tif.*mode F from 2\.5 to 2\.5, expected 0 to 1"):
        load_image_folder(tmp_path / "deep", 8)


def test_a_photo_larger_than_pillows_bomb_warning_threshold_is_read_without_the_warning(tmp_path, monkeypatch):
    # two lines of Pillow's DecompressionBombWarning came before "done" for a 12000x12000 photo
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 200)  # 16x16 = 256 pixels: past it, short of twice it
    (tmp_path / "big").mkdir()
    save_image(tmp_path / "big" / "a.png", RNG.integers(0, 256, (16, 16), dtype=np.uint8))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_image_folder(tmp_path / "big", 8, channels=1).images.shape == (1, 1, 8, 8)


def test_folder_cache_is_reused_while_files_are_unchanged_and_rebuilt_after(tmp_path, monkeypatch):
    make_image_folder(tmp_path / "imgs")
    cache = tmp_path / "cache"
    in_memory = load_image_folder(tmp_path / "imgs", 8)
    cached = load_image_folder(tmp_path / "imgs", 8, cache_dir=cache)
    assert torch.equal(cached.images, in_memory.images)
    assert sorted(p.suffix for p in cache.iterdir()) == [".json", ".u8"]

    def no_decoding(*args):
        raise AssertionError("the cache should have been reused")

    with monkeypatch.context() as patch:
        patch.setattr(images_module, "_decode", no_decoding)
        assert torch.equal(load_image_folder(tmp_path / "imgs", 8, cache_dir=cache).images, in_memory.images)

    save_image(tmp_path / "imgs" / "z_new.png", np.zeros((8, 8), np.uint8))
    rebuilt = load_image_folder(tmp_path / "imgs", 8, cache_dir=cache)
    assert rebuilt.images.shape == (8, 3, 8, 8) and int(rebuilt.images[5].max()) == 0  # root files, then sub/
    assert sorted(p.suffix for p in cache.iterdir()) == [".json", ".u8"]  # no temporary files left
    sampler = ImageSampler(rebuilt, "cpu")
    assert sampler.sample(4, torch.Generator().manual_seed(0)).shape == (4, 3, 8, 8)


def test_folder_without_images_is_an_error(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("no images here")
    with pytest.raises(WganError, match=r"no images found in .*empty.*\.png"):
        load_image_folder(tmp_path / "empty", 8)


def test_non_image_file_with_an_image_extension_is_an_error_naming_it(tmp_path):
    make_image_folder(tmp_path / "imgs")
    (tmp_path / "imgs" / "broken.png").write_text("definitely not a PNG")
    with pytest.raises(WganError, match=r"broken\.png.*Pillow cannot read it"):
        load_image_folder(tmp_path / "imgs", 8)


def test_folder_arguments_are_checked(tmp_path):
    make_image_folder(tmp_path / "imgs")
    with pytest.raises(WganError, match="channels 4"):
        load_image_folder(tmp_path / "imgs", 8, channels=4)
    with pytest.raises(WganError, match="image_size 0"):
        load_image_folder(tmp_path / "imgs", 0)


# --- arrays --------------------------------------------------------------------------------------------------------

def test_npy_of_grayscale_images_round_trips(tmp_path):
    x = RNG.integers(0, 256, (4, 5, 6), dtype=np.uint8)
    np.save(tmp_path / "x.npy", x)
    image_set = load_array(tmp_path / "x.npy")
    assert image_set.images.shape == (4, 1, 5, 6) and image_set.labels is None
    np.testing.assert_array_equal(image_set.images[:, 0].numpy(), x)


@pytest.mark.parametrize("keys", [("images", "labels"), ("x", "y"), ("X", "Y"), ("x_train", "y_train"),
                                  ("image", "targets"), ("data", "label")])  # the labels of the last four were dropped
def test_npz_of_rgb_images_round_trips_with_labels(tmp_path, keys):
    x = RNG.integers(0, 256, (4, 5, 6, 3), dtype=np.uint8)
    np.savez(tmp_path / "d.npz", **{"other": np.zeros(3), keys[0]: x, keys[1]: np.arange(4)})
    image_set = load_array(tmp_path / "d.npz")
    np.testing.assert_array_equal(image_set.images.permute(0, 2, 3, 1).numpy(), x)
    assert image_set.labels.tolist() == [0, 1, 2, 3]


@pytest.mark.parametrize("labels, found", [(np.array([0, -5, 1, 2]), "from -5 to 2"),
                                           (np.array([0, 1, 2, 10**9]), "from 0 to 1000000000")])
def test_npz_labels_that_are_not_class_indices_name_their_range_and_the_renumbering(tmp_path, labels, found):
    # a label of 1e9 made the image scores' classifier ask for 460 GB; a negative one failed there, named train_labels
    np.savez(tmp_path / "d.npz", images=np.zeros((4, 8, 8), np.uint8), labels=labels)
    with pytest.raises(WganError, match=rf"d\.npz' holds labels {found} for 4 images, expected class indices from 0 "
                                        r"to at most 3: renumber them"):
        load_array(tmp_path / "d.npz")


def test_npz_labels_that_skip_a_class_index_name_it_and_the_renumbering(tmp_path):
    # labels 1 to 3 were taken as four classes, 0 among them with no image: no run could cover it in the scores
    np.savez(tmp_path / "d.npz", images=np.zeros((4, 8, 8), np.uint8), labels=np.array([1, 2, 3, 3]))
    with pytest.raises(WganError, match=r"d\.npz' holds labels from 1 to 3 but none of class 0, expected every class "
                                        r"index from 0 to 3 \(the image scores count 4 classes\): renumber them"):
        load_array(tmp_path / "d.npz")


def test_npz_labels_of_one_class_are_refused_saying_to_drop_them_or_give_the_classes(tmp_path):
    # they trained with classes_covered 1/1 at confidence 1: scores that meant nothing
    np.savez(tmp_path / "d.npz", images=RNG.integers(0, 256, (4, 8, 8), dtype=np.uint8), labels=np.zeros(4, int))
    with pytest.raises(WganError, match=r"d\.npz' holds labels of one class, 0, for all 4 images, expected at least 2 "
                                        r"classes .*: drop the labels array \(the images are then scored in pixel "
                                        r"space\) or give each image its class"):
        load_array(tmp_path / "d.npz")


def test_npz_without_named_keys_uses_the_first_array(tmp_path):
    np.savez(tmp_path / "d.npz", RNG.integers(0, 256, (2, 4, 4, 1), dtype=np.uint8), np.ones(3))
    assert load_array(tmp_path / "d.npz").images.shape == (2, 1, 4, 4)
    np.savez(tmp_path / "one.npz", faces=RNG.integers(0, 256, (2, 4, 4), dtype=np.uint8), y=np.arange(2))
    assert load_array(tmp_path / "one.npz").labels.tolist() == [0, 1]


def test_npz_of_several_named_arrays_none_of_them_images_is_one_line_not_a_guess(tmp_path):
    # the first array was taken: here the labels, which then failed as images of the wrong shape
    np.savez(tmp_path / "d.npz", classes=np.arange(2), faces=np.zeros((2, 4, 4), np.uint8))
    with pytest.raises(WganError, match=r"d\.npz' holds no array named as images \(its keys: 'classes', 'faces'\): "
                                        r"save the images under the key 'images'"):
        load_array(tmp_path / "d.npz")


@pytest.mark.parametrize("channels", [1, 3])
def test_arrays_in_torchs_channels_first_layout_load_as_channels_last_ones_do(tmp_path, channels):
    # torch's (N, C, H, W), saved as the data= hint says, was refused as not channels-last
    last = RNG.integers(0, 256, (4, 6, 5, channels), dtype=np.uint8)
    np.save(tmp_path / "last.npy", last)
    np.save(tmp_path / "first.npy", last.transpose(0, 3, 1, 2))
    assert torch.equal(load_array(tmp_path / "first.npy").images, load_array(tmp_path / "last.npy").images)


def test_float_arrays_in_unit_interval_become_uint8(tmp_path):
    np.save(tmp_path / "f.npy", np.tile(np.array([0.0, 0.5, 1.0, 1.0], dtype=np.float32), (1, 4, 1)))
    assert load_array(tmp_path / "f.npy").images.flatten().tolist() == [0, 128, 255, 255] * 4


@pytest.mark.parametrize("shape", [(2, 3, 4, 5, 3), (2, 6, 6, 5)])
def test_arrays_of_wrong_rank_or_channel_count_state_the_shape_found_and_accepted(tmp_path, shape):
    np.save(tmp_path / "bad.npy", np.zeros(shape, np.uint8))
    with pytest.raises(WganError, match=rf"bad\.npy.*shape \({', '.join(map(str, shape))}\).*\(N, C, H, W\) with C"):
        load_array(tmp_path / "bad.npy")


@pytest.mark.parametrize("shape, named", [
    # points in an .npz were told to "reshape or transpose" into images
    ((50, 2), "a 2-D array of shape (50, 2), which is points, not images: save points one per row"),
    # 5 points of 2 coordinates each trained as 5x2 images, cropped to 2x2
    ((100, 5, 2), "images 5x2 pixels, under 4 a side: if these are points, give one per row"),
    ((2, 4, 4, 4), "images of 4 channels (RGB and alpha): drop the alpha channel, images[..., :3]"),
    # these three were told to "reshape or transpose it"
    ((2, 4, 8, 8), "images of 4 channels (RGB and alpha): drop the alpha channel, images[:, :3]"),
    ((2, 8, 8, 2), "images of 2 channels (grey and alpha): drop the alpha channel, images[..., :1]"),
    ((2, 2, 8, 8), "images of 2 channels (grey and alpha): drop the alpha channel, images[:, :1]"),
])
def test_arrays_that_are_not_pictures_say_what_they_look_like(tmp_path, shape, named):
    np.savez(tmp_path / "bad.npz", images=np.zeros(shape, np.float32))
    with pytest.raises(WganError) as error:
        load_array(tmp_path / "bad.npz")
    assert named in str(error.value) and "\n" not in str(error.value)


def test_arrays_of_wrong_dtype_or_range_are_errors(tmp_path):
    np.save(tmp_path / "big.npy", np.full((2, 4, 4), 2.0))
    with pytest.raises(WganError, match=r"floats in \[2.0, 2.0\], expected \[0, 1\]"):
        load_array(tmp_path / "big.npy")
    unknown = np.full((3, 4, 4), 0.5)
    unknown[1, 2, 3], unknown[2, 0, 0] = np.nan, np.inf
    np.save(tmp_path / "nan.npy", unknown)  # it said "floats in [nan, nan]"
    with pytest.raises(WganError, match=r"nan\.npy' holds 2 NaN or infinite pixels, the first in image 1: replace"):
        load_array(tmp_path / "nan.npy")
    np.save(tmp_path / "int.npy", np.zeros((2, 4, 4), np.int64))
    with pytest.raises(WganError, match="dtype int64, expected uint8 or float"):
        load_array(tmp_path / "int.npy")
    with pytest.raises(WganError, match="not .npy or .npz"):
        load_array(tmp_path / "images.csv")


@pytest.mark.parametrize("name", ["noise.npz", "noise.npy"])
def test_a_file_that_is_no_numpy_file_at_all_is_called_that_not_a_pickle(tmp_path, name):
    (tmp_path / name).write_bytes(bytes(range(256)) * 2)  # numpy takes such a file for a pickle
    with pytest.raises(WganError, match=r"not a readable numpy file \(neither a \.npy array nor an \.npz archive\)"):
        load_array(tmp_path / name)


# --- digits --------------------------------------------------------------------------------------------------------

def test_digits_are_1797_grayscale_8x8_images_scaled_to_0_255_with_labels():
    image_set = load_digits()
    assert image_set.images.shape == (1797, 1, 8, 8) and image_set.images.dtype == torch.uint8
    assert int(image_set.images.min()) == 0 and int(image_set.images.max()) == 255
    assert sorted(set(image_set.labels.tolist())) == list(range(10))


# --- the sampler ---------------------------------------------------------------------------------------------------

def tiny_set(n=10, size=28):
    pixels = torch.from_numpy(RNG.integers(0, 256, (n, 1, size, size), dtype=np.uint8))
    pixels[0] = 0
    pixels[1] = 255
    return ImageSet(pixels, torch.arange(n), "tiny")


def test_sampler_returns_float32_in_minus_one_one_with_the_sampler_protocol():
    image_set = tiny_set()
    sampler = ImageSampler(image_set, "cpu")
    assert sampler.shape == (1, 28, 28) and sampler.modes is None and sampler.device == torch.device("cpu")
    batch = sampler.sample(64, torch.Generator().manual_seed(1))
    assert batch.dtype == torch.float32 and batch.shape == (64, 1, 28, 28) and batch.device.type == "cpu"
    assert batch.min() >= -1 and batch.max() <= 1
    index = torch.randint(10, (64,), generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(batch, image_set.images[index].float() / 127.5 - 1)
    assert ImageSampler(tiny_set(2), "cpu").sample(200, torch.Generator().manual_seed(0)).unique().tolist() == [-1, 1]
    assert sampler.labels.tolist() == list(range(10))


def test_sampler_is_deterministic_given_the_generator_seed():
    sampler = ImageSampler(tiny_set(), "cpu")
    first = sampler.sample(32, torch.Generator().manual_seed(7))
    assert torch.equal(first, sampler.sample(32, torch.Generator().manual_seed(7)))
    assert not torch.equal(first, sampler.sample(32, torch.Generator().manual_seed(8)))


def test_sampler_resizes_28_to_32_once_at_construction():
    image_set = tiny_set()
    sampler = ImageSampler(image_set, "cpu", image_size=32)
    assert sampler.shape == (1, 32, 32) and sampler.images.shape == (10, 1, 32, 32)
    assert sampler.images.dtype == torch.uint8
    # Interpolating a constant image gives the same constant; a random one keeps its mean.
    assert sampler.images[0].unique().tolist() == [0] and sampler.images[1].unique().tolist() == [255]
    assert abs(sampler.images[2].float().mean() - image_set.images[2].float().mean()) < 3
    assert sampler.sample(5, torch.Generator().manual_seed(0)).shape == (5, 1, 32, 32)
    assert ImageSampler(image_set, "cpu", image_size=28).images is image_set.images  # no resize, no copy


# --- the registry --------------------------------------------------------------------------------------------------

def test_registry_names_the_datasets():
    assert {"mnist", "fashion-mnist", "cifar10", "digits", "folder", "array"} <= set(IMAGE_DATASETS)


def test_build_image_sampler_by_name_and_by_path(tmp_path):
    assert build_image_sampler("digits", "cpu").shape == (1, 8, 8)
    write_mnist_dir(tmp_path / "fm", gz=True)
    sampler = build_image_sampler("fashion-mnist", "cpu", data_dir=tmp_path / "fm", image_size=32, split="test")
    assert sampler.shape == (1, 32, 32) and len(sampler) == 3 and sampler.name == "fashion-mnist-test"
    np.save(tmp_path / "x.npy", RNG.integers(0, 256, (3, 4, 4, 3), dtype=np.uint8))
    assert build_image_sampler(tmp_path / "x.npy", "cpu").shape == (3, 4, 4)
    assert build_image_sampler("array", "cpu", data_dir=tmp_path / "x.npy").shape == (3, 4, 4)
    make_image_folder(tmp_path / "imgs")
    assert build_image_sampler(str(tmp_path / "imgs"), "cpu", image_size=8).shape == (3, 8, 8)


def test_an_array_of_images_that_are_not_square_is_centre_cropped_not_stretched(tmp_path):
    # like a folder's images; a (N, 16, 40) array was stretched to 32x32
    pixels = np.zeros((2, 16, 40), np.uint8)
    pixels[:, :, 12:28] = 255  # the centre square white, the sides black
    np.save(tmp_path / "wide.npy", pixels)
    images = build_image_sampler(tmp_path / "wide.npy", "cpu", image_size=32).images
    assert images.shape == (2, 1, 32, 32) and int(images.min()) == 255


@pytest.mark.parametrize("name, array, said", [
    ("one.npy", np.full((64, 64, 3), 9, np.uint8), "holds an array of shape (64, 64, 3): 64 images 3 pixels wide, or "
                                                   "more likely one 64x64 image of 3 channels: save it as image[None]"),
    ("mask.npy", np.eye(8, dtype=np.uint8)[None].repeat(3, 0), "holds uint8 pixels of 0 and 1 alone, which are black"),
    ("one.npz", np.full((2, 8, 8), 9, np.uint8), "holds one .npy array, not an .npz archive: rename it one.npy"),
])
def test_arrays_that_would_train_on_something_else_than_meant_say_what_they_hold(tmp_path, name, array, said):
    # a single channels-last image was 64 images 3 pixels wide; a 0/1 mask trained as black; an .npy named .npz
    # named numpy's 'context manager protocol'
    with open(tmp_path / name, "wb") as file:
        np.save(file, array)
    with pytest.raises(WganError) as info:
        build_image_sampler(tmp_path / name, "cpu")
    assert said in str(info.value)


def test_array_and_image_file_names_are_read_whatever_their_case_and_one_image_file_points_to_its_folder(tmp_path):
    # UPPER.NPY was "neither a known name nor ... .npy/.npz file"; one .png was taken for points
    np.save(tmp_path / "x.npy", RNG.integers(0, 256, (3, 4, 4), dtype=np.uint8))
    (tmp_path / "x.npy").rename(tmp_path / "UPPER.NPY")
    assert build_image_sampler(tmp_path / "UPPER.NPY", "cpu").shape == (1, 4, 4)
    save_image(tmp_path / "one.png", np.zeros((8, 8), np.uint8))
    assert data_kind(tmp_path / "one.png") == "images"
    with pytest.raises(WganError, match="one.png' is one image file: give the folder that holds the images"):
        build_image_sampler(tmp_path / "one.png", "cpu", image_size=8)


def test_build_image_sampler_errors_say_what_is_missing(tmp_path):
    with pytest.raises(WganError, match="dataset 'mnist'.*needs data_dir"):
        build_image_sampler("mnist", "cpu")
    with pytest.raises(WganError, match=r"dataset 'minst' is neither a known name \(mnist, "):
        build_image_sampler("minst", "cpu")
    make_image_folder(tmp_path / "imgs")
    with pytest.raises(WganError, match="folder of images needs image_size"):
        build_image_sampler(tmp_path / "imgs", "cpu")
    with pytest.raises(WganError, match="'digits' has no 'test' split"):
        build_image_sampler("digits", "cpu", split="test")
    with pytest.raises(WganError, match=r"cifar10 directory .*nowhere.*does not exist"):
        build_image_sampler("cifar10", "cpu", data_dir=tmp_path / "nowhere")


def test_error_messages_are_one_line(tmp_path):
    path = tmp_path / "images.gz"
    path.write_bytes(b"\x1f\x8b" + b"garbage" * 10)
    for call in (lambda: load_idx(path), lambda: build_image_sampler("minst", "cpu"),
                 lambda: load_image_folder(tmp_path, 8)):
        with pytest.raises(WganError) as info:
            call()
        assert "\n" not in str(info.value)


def test_the_fingerprint_of_a_folder_changes_with_its_files_and_a_named_set_has_none(tmp_path):
    Image.new("L", (8, 8)).save(tmp_path / "a.png")
    before = fingerprint(tmp_path)
    assert fingerprint(tmp_path) == before
    Image.new("L", (8, 8)).save(tmp_path / "b.png")
    assert fingerprint(tmp_path) != before
    assert fingerprint("digits") is None and fingerprint("8gaussians") is None


def test_the_fingerprint_reads_only_the_images_and_follows_the_folder_or_array_named_by_data_dir(tmp_path):
    # a notes file or .DS_Store made a resume warn that the data had changed; "folder" and "array" had none
    Image.new("L", (8, 8)).save(tmp_path / "a.png")
    before = fingerprint(tmp_path)
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / ".DS_Store").write_bytes(b"\0")
    assert fingerprint(tmp_path) == before == fingerprint("folder", tmp_path)
    np.save(tmp_path / "x.npy", np.zeros((2, 4, 4), np.uint8))
    array = fingerprint("array", tmp_path / "x.npy")
    np.save(tmp_path / "x.npy", np.ones((2, 4, 4), np.uint8))
    assert array is not None and fingerprint("array", tmp_path / "x.npy") != array


def test_a_folder_of_images_is_read_through_links_to_folders_each_once(tmp_path):
    # linked folders were skipped without a word, though the README promises any folder of images (recursive)
    (tmp_path / "elsewhere").mkdir()
    save_image(tmp_path / "elsewhere" / "b.png", np.full((8, 8), 200, np.uint8))
    (tmp_path / "data").mkdir()
    save_image(tmp_path / "data" / "a.png", np.zeros((8, 8), np.uint8))
    (tmp_path / "data" / "linked").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    (tmp_path / "elsewhere" / "loop").symlink_to(tmp_path / "data", target_is_directory=True)  # back up: ends
    images = load_image_folder(tmp_path / "data", 8, channels=1).images
    assert images[:, 0, 0, 0].tolist() == [0, 200]


def test_an_image_size_too_large_for_memory_names_image_size_before_anything_is_decoded(tmp_path):
    # the allocator's error came with the advice to lower --batch-size, --eval-samples or --width
    make_image_folder(tmp_path / "imgs")
    with pytest.raises(WganError, match=r"images of 1048576x1048576 needs about .* GB .*: lower image_size"):
        load_image_folder(tmp_path / "imgs", 2**20)
    np.save(tmp_path / "x.npy", RNG.integers(0, 256, (3, 4, 4), dtype=np.uint8))
    with pytest.raises(WganError, match=r"3 images resized to 1048576x1048576 needs .*: lower image_size"):
        build_image_sampler(tmp_path / "x.npy", "cpu", image_size=2**20)


def test_npz_of_two_unnamed_arrays_takes_the_second_as_labels_when_it_holds_one_integer_per_image(tmp_path):
    # numpy.savez(f, images, labels) trained without its labels, and so without the class scores
    np.savez(tmp_path / "d.npz", RNG.integers(0, 256, (3, 4, 4), dtype=np.uint8), np.array([2, 0, 1]))
    assert load_array(tmp_path / "d.npz").labels.tolist() == [2, 0, 1]
    np.savez(tmp_path / "other.npz", RNG.integers(0, 256, (3, 4, 4), dtype=np.uint8), np.zeros((3, 4, 4), np.uint8))
    assert load_array(tmp_path / "other.npz").labels is None  # a second set of images is not labels


def test_a_named_pipe_with_an_image_name_is_not_listed(tmp_path):
    # opening it waited for a writer: `wgan train --data FOLDER` hung without a word
    Image.new("L", (8, 8)).save(tmp_path / "one.png")
    os.mkfifo(tmp_path / "pipe.png")
    assert [path.name for path in list_images(tmp_path)] == ["one.png"]


def test_a_broken_link_in_the_folder_of_images_is_named_as_one(tmp_path):
    # it was "has an image extension but Pillow cannot read it ([Errno 2] No such file or directory ...)"
    for index in range(3):
        Image.fromarray(RNG.integers(0, 256, (8, 8), dtype=np.uint8)).save(tmp_path / f"{index}.png")
    (tmp_path / "gone.png").symlink_to(tmp_path / "moved" / "gone.png")
    with pytest.raises(WganError, match=r"'.*gone\.png' is a link to '.*moved/gone\.png', which does not exist: "
                                        r"remove the link or put the file back"):
        load_image_folder(tmp_path, image_size=8)
    with pytest.raises(WganError, match=r"gone\.png' is a link to .*, which does not exist"):  # as a resume reads it
        fingerprint(tmp_path)


def test_a_run_folder_linked_into_the_folder_of_images_is_refused(tmp_path):
    # a run whose --out was linked inside the images trained its next runs on its figures, without a word
    images, out = tmp_path / "images", tmp_path / "runs"
    (out / "run").mkdir(parents=True)  # as a run holds from its start, before its first checkpoint
    (out / "run" / "config.toml").write_text("")
    (out / "run" / ".lock").write_text("process 1 on host")
    (out / "run" / "curves.png").write_bytes(b"")
    images.mkdir()
    Image.new("L", (8, 8)).save(images / "one.png")
    (images / "outputs").symlink_to(out)
    with pytest.raises(WganError, match=r"outputs/run' in the folder of images .* is a wgan run folder: its figures"):
        list_images(images)


def test_an_array_numpy_cannot_allocate_is_called_truncated_or_too_large_not_damaged(tmp_path, monkeypatch):
    # "is not a readable numpy file (Unable to allocate 114. GiB ...): re-save it", for a valid file too large
    truncated = tmp_path / "truncated.npy"
    with open(truncated, "wb") as file:  # a header for 10^12 pixels, and none of them
        np.lib.format.write_array_header_1_0(file, {"descr": "|u1", "fortran_order": False,
                                                    "shape": (10**6, 1000, 1000)})
    with pytest.raises(WganError, match=r"truncated.npy' is truncated: its header declares [\d,]+ bytes and it holds "):
        load_array(truncated)
    whole = tmp_path / "whole.npy"
    np.save(whole, np.zeros((2, 4, 4), np.uint8))

    def too_large(*args, **kwargs):
        raise MemoryError("Unable to allocate 114. GiB for an array")

    monkeypatch.setattr(np, "load", too_large)
    with pytest.raises(WganError, match=r"whole.npy' does not fit in this machine's memory \(Unable to allocate 114"):
        load_array(whole)


def test_sixteen_bit_and_boolean_arrays_are_told_a_conversion_that_keeps_their_pixels(tmp_path):
    # both were told images.astype(numpy.uint8): 16-bit values wrapped round 256, booleans became 0 and 1
    for name, array, advice in (("deep", np.full((2, 4, 4), 1000, np.uint16), "numpy.rint(images / 257)"),
                                ("bool", np.ones((2, 4, 4), bool), "images.astype(numpy.uint8) * 255")):
        np.save(tmp_path / f"{name}.npy", array)
        with pytest.raises(WganError, match=re.escape(advice)):
            load_array(tmp_path / f"{name}.npy")
