"""The messages between a page of ``wgan play`` and the server, and the check of every message a page sends.

From the page, one JSON object per web-socket text message::

    {"action": "add", "panel": "left", "settings": {"algorithm": "wgan", "n_critic": 5}}
    {"action": "configure", "panel": "left", "settings": {...}}     # new settings: the panel starts over
    {"action": "start" | "pause" | "step" | "reset" | "remove", "panel": "left"}   # "*": every panel

``settings`` are checked by :func:`wgan.play.settings.panel_config`. To the page: ``hello`` (the choices and
limits of every setting), ``panel`` (a panel's resolved settings and whether it trains, after every change),
``frame`` (:meth:`wgan.play.panel.Panel.frame`), ``removed`` and ``error`` (one line saying what to do).
"""

from __future__ import annotations

import json
import re
from typing import Any

from ..errors import WganError
from .settings import CHOICES, DEFAULTS, EDITABLE, LIMITS, panel_config
from .stage import ACTIONS, MAX_PANELS, Command

MAX_MESSAGE_CHARS = 4096  # a command with every setting is about 300 characters
PANEL_NAME = re.compile(r"[A-Za-z0-9_-]{1,32}|\*")


class MessageError(WganError):
    """A message the server cannot carry out, with the panel it named (None when it named none readable)."""

    def __init__(self, message: str, panel: str | None = None):
        super().__init__(message)
        self.panel = panel


def parse(text: Any, device: str = "cpu") -> Command:
    """The :class:`~wgan.play.stage.Command` a page's message asks for; :class:`MessageError` naming what is
    wrong."""
    if not isinstance(text, str):
        raise MessageError("messages must be JSON text, not binary")
    if len(text) > MAX_MESSAGE_CHARS:
        raise MessageError(f"a message of {len(text)} characters is too long (at most {MAX_MESSAGE_CHARS})")
    try:
        message = json.loads(text)
    except ValueError as error:
        raise MessageError(f"a message is not valid JSON ({error})") from None
    except RecursionError:  # "[[[[..." within the length limit: Python's decoder recurses once per level
        raise MessageError("a message nests its JSON too deep: send one object of action, panel and settings") \
            from None
    if not isinstance(message, dict):
        raise MessageError(f"a message must be a JSON object, got {type(message).__name__}")
    action, panel = message.get("action"), message.get("panel")
    if not isinstance(panel, str) or PANEL_NAME.fullmatch(panel) is None:
        raise MessageError(f"panel {str(panel)[:40]!r} is not a panel name: 1 to 32 letters, digits, '-' or '_', "
                           "or '*'")
    if action not in ACTIONS:
        raise MessageError(f"action {str(action)[:40]!r} is not known: use one of {', '.join(ACTIONS)}", panel)
    extra = sorted(set(message) - {"action", "panel", "settings"})
    if extra:
        raise MessageError(f"a message has no field {extra[0][:40]!r}: send action, panel and (add, configure) "
                           "settings", panel)
    if action in ("add", "configure"):
        try:
            return Command(action, panel, panel_config(message.get("settings", {}), device))
        except WganError as error:
            raise MessageError(str(error), panel) from None
    if "settings" in message:
        raise MessageError(f"'{action}' takes no settings: send 'configure' to change them", panel)
    return Command(action, panel)


def hello() -> dict[str, Any]:
    """The first message to a page: what it may set, within which bounds, and the default of a new panel."""
    limits = {name: {"kind": limit.kind.__name__, "low": limit.low, "high": limit.high, "open_low": limit.open_low}
              for name, limit in LIMITS.items()}
    return {"type": "hello", "editable": list(EDITABLE), "choices": {name: list(values) for name, values in
                                                                    CHOICES.items()},
            "limits": limits, "defaults": DEFAULTS, "max_panels": MAX_PANELS}
