"""The user's own points: an ``N x d`` array from a ``.npy`` or ``.csv`` file, checked once and kept on the device.

Every problem with the file is a :class:`~wgan.errors.WganError` with a one-line message that names the
file, the offending row (and column, for a CSV) and the fix. CSV rows are counted like a spreadsheet's,
from 1, header included; ``.npy`` rows are counted from 0, like ``x[i]``.
"""

from __future__ import annotations

import array
import csv
import os
import re
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch

from wgan.data.images import npy_header, npy_too_large
from wgan.data.sampler import TensorSampler
from wgan.errors import WganError, one_line

POINT_FILE_SUFFIXES = (".npy", ".csv")


def load_points(path: str | os.PathLike) -> torch.Tensor:
    """Read an ``(N, d)`` float32 tensor of points (``N >= 2``, ``d >= 1``, all finite) from a .npy or .csv file.

    A CSV holds comma-separated numbers, one point per row; its first row is a header, and skipped, when
    every field in it is not a number, or when it numbers the columns as pandas does (:func:`_numbers_columns`).
    Blank lines before the first row and after the last are ignored.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in POINT_FILE_SUFFIXES:
        raise WganError(
            f"data file '{path}' has extension {suffix or '(none)'!r}: expected {' or '.join(POINT_FILE_SUFFIXES)}; "
            "save the points with numpy.save or as comma-separated numbers"
        )
    if not path.exists():
        raise WganError(f"data file '{path}' does not exist: check the path (relative paths start in {os.getcwd()})")
    if not path.is_file():
        raise WganError(f"data file '{path}' is not a file: give the path of a {suffix} file")
    if suffix == ".npy":
        array = _read_npy(path)
        return torch.from_numpy(_checked(array, path, lambda i: f"row index {i}"))
    array, first_row = _read_csv(path)
    return torch.from_numpy(_checked(array, path, lambda i: f"row {first_row + i}"))


def points_sampler(path: str | os.PathLike, device: torch.device | str) -> TensorSampler:
    """Uniform draws, with replacement, from the points in ``path`` (see :func:`load_points`), kept on ``device``."""
    return TensorSampler(load_points(path), device)


TOY_SCALE = 10.0  # the toy sets lie within [-3, 3]: the defaults (learning rates, initialisation) are tuned there


def scale_warning(points: torch.Tensor, data: str | os.PathLike) -> str | None:
    """A warning for points whose columns lie far from the scale the defaults are tuned for (a mean or standard
    deviation beyond :data:`TOY_SCALE`), else None. A generator starts with outputs near 0 and moves them by a
    learning rate's steps: data centred at 1000, or spread over hundreds, leaves it far from the data for most of
    a run (measured: exact W1 481-497 from iteration 250 to 750, at a standard deviation of 50 about 1000)."""
    mean, std = points.mean(dim=0).abs().max().item(), points.std(dim=0).max().item()
    if max(mean, std) <= TOY_SCALE:
        return None
    return (f"the points in '{data}' lie far from the scale the defaults are tuned for (column means up to "
            f"{mean:.3g}, standard deviations up to {std:.3g}; the toy sets lie within [-3, 3]): training may "
            "stall; standardise each column ((x - mean) / std) and undo it on the samples (x * std + mean)")


def _read_npy(path: Path) -> np.ndarray:
    # Read the header first: it tells object arrays (which we never unpickle) from damaged files.
    try:
        with open(path, "rb") as f:
            header = npy_header(f)
        dtype = header[2] if header is not None else None
        array = None if dtype is not None and dtype.hasobject else np.load(path, allow_pickle=False)
    except MemoryError as error:
        raise WganError(f"data file '{path}' {npy_too_large(path, error)}") from None
    except Exception as error:  # a damaged header makes numpy raise ValueError, SyntaxError, TokenError, ...
        raise WganError(
            f"data file '{path}' is not a readable .npy array ({one_line(error)}): write it again with numpy.save"
        ) from None
    if array is None or array.dtype.kind not in "iuf":
        shown = "object" if array is None else str(array.dtype)
        raise WganError(
            f"data file '{path}' holds {shown} values: expected numbers; "
            "save a numeric array, e.g. numpy.save(path, x.astype(numpy.float32))"
        )
    if array.ndim == 1:
        raise WganError(
            f"data file '{path}' holds a 1-D array of shape {array.shape}: expected N x d points; "
            "for one number per point reshape it to (N, 1) with x.reshape(-1, 1)"
        )
    if array.ndim != 2:
        raise WganError(
            f"data file '{path}' holds an array of shape {array.shape}: expected a 2-D array N x d, "
            "one row per point; flatten each point with x.reshape(len(x), -1)"
        )
    return array


def _number(field: str) -> float:
    """The number a CSV field writes, read as ``float`` reads it, except digits grouped by underscores (``1_000``):
    Python's literals allow them and no table writes them, so they are refused rather than read as 1000."""
    if "_" in field:
        raise ValueError(f"underscore in {field!r}")
    return float(field)


def _is_number(field: str) -> bool:
    try:
        _number(field)
    except ValueError:
        return False
    return True


def _is_whole(field: str) -> bool:
    """A whole number written without a point or an exponent: 3, -12."""
    return field.strip().lstrip("+-").isdigit()


def _numbers_columns(row: list[str], least: int = 2) -> bool:
    """Whether ``row`` reads as the header ``0,1,...,d-1`` (d >= ``least``) that pandas' ``to_csv`` writes for a
    DataFrame of unnamed columns, such as one made from a numpy array. It is taken for a header when every later
    row holds a number with a point or an exponent (pandas writes floats so: 0.0): points written as whole numbers
    read as points (:class:`_CsvRows`). A lone ``0`` is not taken (``least`` 2): a column whose first point is 0
    would lose it, where pandas' one-column header would add the point 0."""
    names = [field.strip() for field in row]
    return len(names) >= least and names == [str(i) for i in range(len(names))]


OTHER_SEPARATORS = {";": "semicolons", "\t": "tabs"}  # what a spreadsheet may save instead of commas
MISSING_MARKS = {"na", "n/a", "null", "none", "missing", "?"}  # how tables write a missing value
THOUSANDS = re.compile(r"[+-]?\d{1,3}(,\d{3})+(\.\d*)?")  # "1,000" or "12,345.6", quoted in a CSV
_WITH_COMMAS = "save it with commas between the numbers and a point in each (1.5, not 1,5)"
INDEX_COLUMN = ("begins with a column of row numbers under an empty name, as pandas' to_csv writes its index: save "
                "it with to_csv(path, index=False)")


def _read_csv(path: Path) -> tuple[np.ndarray, int]:
    """Return the numbers of a CSV file and the (1-based) row number of its first data row."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            return _CsvRows(path).read(csv.reader(f))
    except (UnicodeDecodeError, csv.Error) as error:
        raise WganError(
            f"data file '{path}' is not a readable CSV text file ({one_line(error)}): "
            "save it as UTF-8 text with comma-separated numbers"
        ) from None


class _CsvRows:
    """The numbers of a CSV file's rows, converted as they are read: 8 bytes a number in memory (the file's
    fields kept as strings took 16 to 29 times its size). The first problem in the file's order is the one named.

    A first row of pandas' column numbers is a header only when no later row is whole numbers alone
    (:func:`_numbers_columns`), and a header of names over pandas' index column is known by every later row: both
    are settled at the end, from what the rows showed on the way. Column numbers after an empty name (``,0,1``) are
    pandas' header over its index whatever the rows hold, and refused at once.
    """

    def __init__(self, path: Path):
        self.path = path
        self.numbers = array.array("d")
        self.rows = 0  # data rows converted
        self.width = 0
        self.first_row = 0  # the file's row number of the first data row, 0 until one is read
        self.column_numbers: tuple[list[float], int] | None = None  # a first row that reads as 0, 1, ..., d-1
        self.whole_rows = False  # a data row of whole numbers alone: the column numbers were a point after all
        self.index_column = False  # the data rows begin 0, 1, 2, ... under an empty first name
        self.named_width = 0  # the columns a header names, its last name not blank (0: none, or one ending ",")
        self.blank = 0  # the row number of the first blank row after the data: an error if more data follows

    def read(self, rows: Iterator[list[str]]) -> tuple[np.ndarray, int]:
        header_read = False
        for number, row in enumerate(rows, start=1):
            if any("\n" in field or "\r" in field for field in row):
                # a quote left open runs on over the line ends, and the rest of the file is one field
                raise self._error(f"row {number} opens a quote (\") that is not closed on that row: close it or "
                                  "remove it")
            if not any(field.strip() for field in row):
                if (header_read or self.rows) and not self.blank:  # blank rows before the first are skipped
                    self.blank = number
            elif self.blank:
                raise self._error(f"row {self.blank} is blank but more rows follow: delete the blank line")
            elif not header_read and self.rows == 0:
                header_read = self._header(row, number)
            else:
                self._add(row, number)
        return self._numbers()

    def _header(self, row: list[str], number: int) -> bool:
        """Take the first row that is not blank: a header (True) or data (False)."""
        if not any(_is_number(field.replace("_", "")) for field in row):  # (1_000 is refused as data, below)
            self.index_column = row[0].strip() == ""
            self.named_width = len(row) if row[-1].strip() else 0
            return True
        if row[0].strip() == "" and _numbers_columns(row[1:], least=1):  # ",0,1": pandas' index and column numbers
            raise self._error(INDEX_COLUMN)
        if _numbers_columns(row):
            self.column_numbers = ([float(field) for field in row], number)
            self.named_width = len(row)
            return True
        self._add(row, number, first=True)
        return False

    def _add(self, row: list[str], number: int, first: bool = False) -> None:
        """Convert the data row ``row``, the file's row ``number`` (``first``: its first row that is not blank)."""
        if not self.first_row:
            self.first_row, self.width = number, len(row)
        elif len(row) != self.width:
            raise self._error(f"row {number} has {len(row)} columns but row {self.first_row} has {self.width}: every "
                              "row needs the same number of numbers" + _separator_hint(row))
        try:
            values = [_number(field) for field in row]
        except ValueError:
            column, field = next((j, field) for j, field in enumerate(row, start=1) if not _is_number(field))
            # an empty last field is a missing value where a row before shows that column: the first data row
            # (as wide: the ragged are refused above), or a header naming each column
            ends_with_comma = column == len(row) and number == self.first_row and len(row) != self.named_width
            raise self._error(f"row {number} column {column} is {field!r}, not a number: "
                              + _field_hint(field, ends_with_comma, first)) from None
        self.index_column = self.index_column and row[0].strip() == str(self.rows)
        self.whole_rows = self.whole_rows or self.column_numbers is not None and all(map(_is_whole, row))
        self.numbers.extend(values)
        self.rows += 1

    def _numbers(self) -> tuple[np.ndarray, int]:
        if self.index_column and self.rows:
            raise self._error(INDEX_COLUMN)
        if self.column_numbers is not None and (self.whole_rows or not self.rows):  # a point, not column numbers
            values, number = self.column_numbers
            if self.rows and len(values) != self.width:
                raise self._error(f"row {self.first_row} has {self.width} columns but row {number} has "
                                  f"{len(values)}: every row needs the same number of numbers")
            self.numbers[:0] = array.array("d", values)
            self.rows, self.width, self.first_row = self.rows + 1, len(values), number
        points = np.frombuffer(self.numbers, dtype=np.float64).reshape(self.rows, self.width)
        return points, self.first_row or 1

    def _error(self, problem: str) -> WganError:
        return WganError(f"data file '{self.path}' {problem}")


def _other_separator(fields: list[str]) -> str | None:
    """The name of the separator other than a comma that ``fields`` hold, if any (:data:`OTHER_SEPARATORS`, or
    spaces between numbers)."""
    named = next((name for mark, name in OTHER_SEPARATORS.items() if any(mark in field for field in fields)), None)
    if named is None and any(len(field.split()) > 1 and all(map(_is_number, field.split())) for field in fields):
        return "spaces"
    return named


def _separator_hint(row: list[str]) -> str:
    """What a row's fields say of the file's separator, if they hold another one."""
    separator = _other_separator(row)
    return f"; the file seems separated by {separator}: {_WITH_COMMAS}" if separator else ""


def _field_hint(field: str, ends_with_comma: bool, first_row: bool) -> str:
    """What to do about a CSV field that is not a number (``ends_with_comma``: an empty last field that no row
    before shows to be a column of the data)."""
    text = field.strip()
    separator = _other_separator([text])
    if separator:
        return f"the file seems separated by {separator}; {_WITH_COMMAS}"
    if not text and ends_with_comma:
        return ("the row ends with a comma: remove the commas at the ends of the rows, or, where the rows below hold "
                "a number there, fill in the missing value")
    if not text or text.lower() in MISSING_MARKS:
        return ("a missing value: every point needs a number in each column; drop the rows with missing values "
                "(pandas: df.dropna()) or fill them in")
    if THOUSANDS.fullmatch(text):
        return f"write numbers without thousands separators ({text.replace(',', '')})"
    if "_" in text and _is_number(text.replace("_", "")):
        return f"write numbers without underscores ({text.replace('_', '')})"
    if first_row:  # names beside a name that reads as a number (2020)
        return ("a first row of column names is skipped only when none of them reads as a number: rename those "
                "that do (e.g. y2020) or delete the row")
    return "every field must be a number (only a first row of column names may hold text)"


LARGEST_COORDINATE = 1e18  # squared differences (W1's ground cost, the losses) stay within float32 (3.4e38)


def _checked(array: np.ndarray, path: Path, row_name: Callable[[int], str]) -> np.ndarray:
    if array.shape[0] < 2:
        raise WganError(
            f"data file '{path}' has {array.shape[0]} point{'s' if array.shape[0] != 1 else ''}: "
            "expected at least 2 points, one per row; add more rows"
        )
    if array.shape[1] == 0:
        raise WganError(
            f"data file '{path}' has {array.shape[0]} rows but no columns: each point needs at least one number"
        )
    with np.errstate(over="ignore"):  # a float64 beyond float32's range becomes inf, reported just below
        points = np.ascontiguousarray(array, dtype=np.float32)
    bad = ~np.isfinite(points)
    if bad.any():
        first, count = int(np.flatnonzero(bad.any(axis=1))[0]), int(bad.sum())
        raise WganError(
            f"data file '{path}' has {count} NaN or infinite value{'s' if count != 1 else ''} "
            "(or values too large for float32), "
            f"the first in {row_name(first)}: remove or replace them"
        )
    largest = float(np.abs(points).max())
    if largest > LARGEST_COORDINATE:
        raise WganError(
            f"data file '{path}' holds values up to {largest:.3g} in size, beyond {LARGEST_COORDINATE:.0e}: distances "
            "and losses square them past float32's range, where training ends in infinities; scale the points "
            "down (e.g. standardise each column)"
        )
    return points
