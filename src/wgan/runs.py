"""The run folder ``<out>/<name>/``: what a run leaves behind, and the one way each thing is written.

```
config.toml          resolved settings (every default filled in)
metrics.jsonl        one JSON object per log or evaluation point: {"iteration": k, "train/...": x, "eval/...": y}
tensorboard/         the same scalars as TensorBoard events
samples/iter_K.png   real vs generated samples over the critic's landscape, at each evaluation
curves.png           the critic's estimate and the exact W1 against iterations
checkpoints/latest.pt, checkpoints/best.pt   everything needed to resume (see Trainer.state_dict)
```

Every file is written atomically (a temporary file in the same folder, then ``os.replace``), so an interrupted
run never leaves a half-written checkpoint or figure, and what was saved before stays intact.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import torch

from .config import Config, make_config, to_toml
from .errors import WganError

CONFIG_FILE = "config.toml"
_UMASK = os.umask(0)
os.umask(_UMASK)  # read once: new files get the usual permissions (mkstemp would make them owner-only)
METRICS_FILE = "metrics.jsonl"


def atomic_write(path: str | Path, write: Callable[[IO[bytes]], Any]) -> Path:
    """Call ``write(file)`` on a temporary file beside ``path``, then rename it over ``path`` in one step."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(temporary, 0o666 & ~_UMASK)
        with os.fdopen(handle, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    return atomic_write(path, lambda file: file.write(data))


class RunFolder:
    """Reads and writes one run folder. Create it with :meth:`create`; reopen it with :meth:`open`."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.history: list[dict[str, Any]] = []
        self._tensorboard = None

    @classmethod
    def create(cls, config: Config) -> RunFolder:
        """Make a new folder for ``config`` and write its resolved config.

        A name given by the user must be free (a run is never overwritten); the default name
        ``<algorithm>-<data>`` gets a number when taken.
        """
        out = Path(config.out)
        if config.name:
            path = out / config.name
            if path.exists():
                raise WganError(f"run folder '{path}' already exists: choose another --name, or continue it "
                                f"with `wgan train --resume {path}`")
        else:
            stem = f"{config.algorithm}-{Path(config.data).stem}"
            path, number = out / stem, 1
            while path.exists():
                number += 1
                path = out / f"{stem}-{number}"
        path.mkdir(parents=True)
        atomic_write_bytes(path / CONFIG_FILE, to_toml(config).encode())
        return cls(path)

    @classmethod
    def open(cls, path: str | Path) -> RunFolder:
        """Reopen an existing run folder (to resume, sample or evaluate) and read its metrics log."""
        folder = cls(Path(path))
        if not (folder.path / CONFIG_FILE).is_file():
            raise WganError(f"'{path}' is not a run folder (no {CONFIG_FILE}): give a folder that `wgan train` made")
        metrics = folder.path / METRICS_FILE
        if metrics.is_file():
            folder.history = [json.loads(line) for line in metrics.read_text().splitlines() if line.strip()]
        return folder

    def config(self) -> Config:
        return make_config(self.path / CONFIG_FILE)

    @property
    def name(self) -> str:
        return self.path.name

    # Scalars -------------------------------------------------------------------------------------------------
    def log(self, iteration: int, scalars: dict[str, float]) -> None:
        """Append one row of named scalars to metrics.jsonl and TensorBoard."""
        row = {"iteration": iteration, **scalars}
        self.history.append(row)
        with open(self.path / METRICS_FILE, "a") as file:
            file.write(json.dumps(row) + "\n")
        writer = self._writer(iteration)
        for key, value in scalars.items():
            writer.add_scalar(key, value, iteration)

    def _writer(self, iteration: int):
        if self._tensorboard is None:
            from torch.utils.tensorboard import SummaryWriter  # slow import, only needed once logging starts

            # purge_step hides events a resumed run re-logs after its checkpoint
            self._tensorboard = SummaryWriter(str(self.path / "tensorboard"), purge_step=iteration)
        return self._tensorboard

    def rewind(self, iteration: int) -> None:
        """Drop logged rows after ``iteration`` (a resumed run re-logs them exactly)."""
        self.history[:] = [row for row in self.history if row["iteration"] <= iteration]
        text = "".join(json.dumps(row) + "\n" for row in self.history)
        atomic_write_bytes(self.path / METRICS_FILE, text.encode())

    def close(self) -> None:
        if self._tensorboard is not None:
            self._tensorboard.close()
            self._tensorboard = None

    # Files ---------------------------------------------------------------------------------------------------
    def write_figure(self, relative: str, png: bytes) -> Path:
        return atomic_write_bytes(self.path / relative, png)

    def checkpoint_path(self, which: str) -> Path:
        return self.path / "checkpoints" / f"{which}.pt"

    def save_checkpoint(self, state: dict[str, Any], which: str) -> Path:
        return atomic_write(self.checkpoint_path(which), lambda file: torch.save(state, file))

    def load_checkpoint(self, which: str = "latest", device: torch.device | str = "cpu") -> dict[str, Any]:
        path = self.checkpoint_path(which)
        if not path.is_file():
            raise WganError(f"run folder '{self.path}' has no {which} checkpoint ({path}): "
                            "train it until its first evaluation, or pick --checkpoint latest")
        try:
            return torch.load(path, map_location=device, weights_only=True)
        except Exception as error:  # a damaged file: say which, not a pickle traceback
            raise WganError(f"checkpoint '{path}' cannot be read ({type(error).__name__}): "
                            "it is damaged; use the other checkpoint (latest/best)") from None
