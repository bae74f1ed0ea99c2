"""Checkpoint files: what a run saves to resume, with its format version and a checksum of its content.

A checkpoint is one ``torch.save`` file holding the trainer's state (:meth:`~wgan.trainer.Trainer.state_dict`)
plus two entries: ``format`` (:data:`FORMAT`) and ``checksum``, the SHA-256 of the state's content walked in a
fixed order (keys sorted; tensors by dtype, shape and bytes; other values by ``repr``). A file cut short fails
to unpickle, and one altered anywhere, even inside a tensor where unpickling would still succeed, fails the
checksum: either way it is reported as damaged, never half-loaded. Files are read with
``torch.load(weights_only=True)``, which builds tensors and plain containers only: a pickle that would run
code is refused, not run. Format 1, written before checksums, is the bare state; it is still read.
"""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path
from typing import Any

import torch

from .errors import WganError, reason

FORMAT = 2


def checksum(state: Any) -> str:
    """SHA-256 of ``state``'s content, the same for equal content whatever the dicts' insertion order."""
    digest = hashlib.sha256()
    _feed(digest, state)
    return digest.hexdigest()


def _feed(digest, value: Any) -> None:
    if isinstance(value, dict):
        digest.update(b"{")
        for key in sorted(value, key=repr):
            digest.update(repr(key).encode())
            _feed(digest, value[key])
        digest.update(b"}")
    elif isinstance(value, (list, tuple)):
        digest.update(b"[")
        for item in value:
            _feed(digest, item)
        digest.update(b"]")
    elif isinstance(value, torch.Tensor):
        tensor = value.detach().cpu().contiguous().reshape(-1)
        digest.update(f"{tensor.dtype}{tuple(value.shape)}".encode())
        digest.update(tensor.view(torch.uint8).numpy())
    else:
        digest.update(repr(value).encode())


def pack(state: dict[str, Any]) -> dict[str, Any]:
    """``state`` with its format version and checksum, as written to disk."""
    stamped = {**state, "format": FORMAT}
    return {**stamped, "checksum": checksum(stamped)}


def require_readable(path: Path) -> None:
    """Raise :class:`WganError` when the system will not open ``path`` (its permissions): that file is not
    damaged, and a resume must not fall back from it."""
    try:
        with open(path, "rb"):
            pass
    except OSError as error:
        raise WganError(f"checkpoint '{path}' cannot be opened ({reason(error)}): make it readable "
                        "(chmod u+r) and try again") from None


def unpack(path: Path, device: torch.device | str = "cpu") -> dict[str, Any]:
    """Read and check the checkpoint at ``path``; return the state without its stamp.

    Raises :class:`WganError` naming the file and what is wrong with it: missing, unreadable (cut short, not a
    checkpoint, or a pickle that is not plain data), altered (checksum), or written by a newer version.
    """
    if not path.is_file():
        raise WganError(f"checkpoint '{path}' does not exist")
    require_readable(path)
    try:
        with warnings.catch_warnings():  # a file that is not a checkpoint makes torch warn before it fails
            warnings.simplefilter("ignore")
            saved = torch.load(path, map_location=device, weights_only=True)
    except Exception as error:  # cut short, not a checkpoint, or not plain data: say so, not a pickle traceback
        raise WganError(f"checkpoint '{path}' cannot be read ({type(error).__name__}): it is damaged, or it is "
                        "not a checkpoint wgan wrote") from None
    if not isinstance(saved, dict):
        raise WganError(f"checkpoint '{path}' holds a {type(saved).__name__}, not a wgan checkpoint")
    version = saved.get("format", 1)
    if version > FORMAT:
        raise WganError(f"checkpoint '{path}' has format {version}, newer than this wgan's {FORMAT}: "
                        "upgrade wgan to read it")
    if version >= 2:
        stored = saved.pop("checksum", None)
        if stored != checksum(saved):
            raise WganError(f"checkpoint '{path}' is damaged: its content does not match its checksum")
    saved.pop("format", None)
    return saved
