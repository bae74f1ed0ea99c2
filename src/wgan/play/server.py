"""The web server of ``wgan play`` and ``wgan watch``: Starlette applications run by uvicorn.

``play``: ``/`` is the page (``static/play.html``), ``/ws`` its web socket. Each open page gets its own
:class:`~wgan.play.stage.Stage` (its panels and the thread that trains them), freed when the page closes.
Messages from the stage's thread reach the page through an :class:`Outbox`, which keeps only the newest unsent
frame of each panel: a slow browser sees the latest picture, and the server's memory stays bounded.

``watch``: ``/`` is ``static/watch.html``, ``/ws`` streams the run folder's new metrics rows and newest figure
(:class:`~wgan.play.watch.RunFollower`) once a second, ``/files/...`` serves the folder's figures.

A bad message gets an ``error`` message on the page and a line in the server's log; nothing a page sends stops
the server or touches another page. A web socket opened by a page of another site (its browser's Origin header
names another host) is refused: any site open in the user's browser could otherwise train on this machine. A
server that listens on this machine's loopback address answers only requests addressed to it by a loopback name
(``localhost``, ``127.0.0.1``, ``[::1]``): a site whose own name the attacker points at 127.0.0.1 (DNS rebinding)
would otherwise be this server's page by the Origin check, and read or train through it.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import logging
import math
import signal
import socket
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import h11
import uvicorn
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketClose, WebSocketDisconnect
from uvicorn.protocols.http.h11_impl import H11Protocol

from ..errors import WganError
from ..signals import as_ctrl_c, signals_handled
from .protocol import MessageError, hello, parse
from .stage import Stage
from .watch import RunFollower

STATIC = Path(__file__).parent / "static"
WATCH_SECONDS = 1.0  # how often a watched run folder is read
SHUTDOWN_SECONDS = 5  # Ctrl-C waits this long for open pages to close, then closes them
MAX_FRAME_BYTES = 1 << 20  # a longer web-socket message closes its connection (shorter ones get a clear error)
MAX_PORT = 65535  # the largest TCP port number
WS_POLICY_VIOLATION = 1008  # the web socket close code of a refused connection (RFC 6455)
WS_TRY_AGAIN_LATER = 1013  # ... and of one refused while the server is full
WS_SERVER_ERROR = 1011  # ... and of one that the server ends on an error
MAX_UNSENT = 256  # messages kept for a page that does not read them (its frames: one per panel)
MAX_PAGES = 8  # pages open at once, each with up to MAX_PANELS panels and a thread that trains them; a closed
# page's thread counts until the step under way ends (it cannot be cut short)
CLOSING_WAIT_SECONDS = 1.0  # a page refused for want of room waits this long for a closed page's thread to end
REQUEST_SECONDS = 10.0  # a connection that has not sent a whole request (head, and body if any) by then is closed
ACCEPT_FAILURES_LOGGED_EVERY = 10.0  # seconds: asyncio logs each failed accept (out of file descriptors) once
LOGGED_ERRORS = 20  # a page's bad messages and failed commands logged, one line each; the rest are counted
log = logging.getLogger("wgan.play")


class Outbox:
    """Messages from a stage's thread to one web socket, in order, except that a panel's new frame replaces its
    unsent one, and a message about a panel's state drops its unsent frame (which showed the state before); past
    :data:`MAX_UNSENT` unsent messages, the oldest go (a client that sends and never reads)."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self.messages: deque[dict[str, Any]] = deque(maxlen=MAX_UNSENT)
        self.frames: dict[str, dict[str, Any]] = {}
        self.ready = asyncio.Event()

    def put(self, message: dict[str, Any]) -> None:
        """Queue ``message``; safe to call from any thread (a closed loop drops it: the page is gone)."""
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(self._put, message)

    def _put(self, message: dict[str, Any]) -> None:
        panel = message.get("panel")
        if message["type"] == "frame":
            self.frames[panel] = message
        else:
            self.frames.pop(panel, None)
            self.messages.append(message)
        self.ready.set()

    async def take(self) -> list[dict[str, Any]]:
        """Every message queued, once there is one."""
        await self.ready.wait()
        self.ready.clear()
        taken = [*self.messages, *self.frames.values()]
        self.messages.clear()
        self.frames.clear()
        return taken


class PageLog:
    """A page's lines in the server's log: its first :data:`LOGGED_ERRORS` bad messages and failed commands, one
    line each, naming the page; the rest are counted (``count``), so that one page cannot flood the log."""

    def __init__(self, client: str):
        self.client, self.count = client, 0
        self._lock = threading.Lock()  # the server's loop and the page's training thread both log

    def warning(self, message: str) -> None:
        """Log ``message`` while under the cap."""
        with self._lock:
            self.count += 1
            logged = self.count <= LOGGED_ERRORS
        if logged:
            log.warning("page %s: %s", self.client, " ".join(message.split()))


async def _room(stages: set[Stage]) -> bool:
    """Whether a page may open: fewer than :data:`MAX_PAGES` stages still run, a closed page's counted until its
    step ends (waiting up to :data:`CLOSING_WAIT_SECONDS` for one). Stages that have ended leave ``stages``."""
    if sum(stage.alive for stage in stages) >= MAX_PAGES:
        closing = next((stage for stage in stages if stage.closing and stage.alive), None)
        if closing is not None:
            await asyncio.to_thread(closing.wait, CLOSING_WAIT_SECONDS)
    stages.difference_update({stage for stage in stages if not stage.alive})
    return len(stages) < MAX_PAGES


async def _accepted(websocket: WebSocket) -> bool:
    """Accept ``websocket`` unless a page of another site opened it (browsers send the page's Origin; a script
    without one could reach the port anyway); close it so otherwise, with a line in the log."""
    origin = websocket.headers.get("origin")
    if origin is not None and urlsplit(origin).netloc != websocket.headers.get("host"):
        log.warning("a page of %s was refused: it is not this server's page", origin[:100])
        await websocket.close(code=WS_POLICY_VIOLATION)
        return False
    await websocket.accept()
    return True


async def _send_all(websocket: WebSocket, outbox: Outbox) -> None:
    while True:
        for message in await outbox.take():
            await websocket.send_json(message)


def play_app(device: str = "cpu") -> Starlette:
    """The application of ``wgan play``: panels train on ``device``."""

    stages: set[Stage] = set()  # of the pages open, and of those closed whose step is still under way

    async def play_socket(websocket: WebSocket) -> None:
        if not await _accepted(websocket):
            return
        if not await _room(stages):  # each trains in a thread of its own: more would share the cores to no end
            log.warning("a page was refused: %d pages are open or finishing a step", len(stages))
            await websocket.send_json({"type": "error", "panel": None, "message": f"this server has {MAX_PAGES} "
                                       "pages open (or closed and finishing a step) already: close one, or start "
                                       "another `wgan play`"})
            await websocket.close(code=WS_TRY_AGAIN_LATER)
            return
        client = f"{websocket.client.host}:{websocket.client.port}" if websocket.client else "a page"
        page_log = PageLog(client)
        outbox = Outbox(asyncio.get_running_loop())
        stage = Stage(outbox.put, warn=page_log.warning)
        sender = asyncio.create_task(_send_all(websocket, outbox))
        stages.add(stage)
        log.info("page %s opened", client)
        try:
            outbox.put(hello())
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    break
                try:
                    stage.submit(parse(message.get("text"), device))
                except MessageError as error:
                    page_log.warning(str(error))
                    outbox.put({"type": "error", "panel": error.panel, "message": " ".join(str(error).split())})
        except WebSocketDisconnect:
            pass
        finally:  # the panels go after the step under way, which may be long: a Ctrl-C does not wait for it
            sender.cancel()
            stage.close(timeout=0)
            unlogged = page_log.count - LOGGED_ERRORS
            log.info("page %s closed%s", client, f" ({unlogged} more problems not logged)" if unlogged > 0 else "")

    return Starlette(routes=[Route("/", _page("play.html")), WebSocketRoute("/ws", play_socket),
                             Mount("/static", StaticFiles(directory=STATIC), name="static")])


def watch_app(path: str | Path) -> Starlette:
    """The application of ``wgan watch``, following the run folder at ``path`` (checked here)."""
    figures = RunFollower(path)  # a folder that is not a run is a user error before the server starts

    async def watch_socket(websocket: WebSocket) -> None:
        if not await _accepted(websocket):
            return
        figure = None
        closed = asyncio.create_task(websocket.receive())  # the page sends nothing but its going away
        try:
            follower = RunFollower(path)  # the folder may have gone since the server started
            await websocket.send_json({"type": "run", **follower.describe()})
            while not closed.done():
                rows, restarted = follower.new_rows()
                if restarted:  # a new run in the folder's place, perhaps with other settings
                    await websocket.send_json({"type": "run", **follower.describe()})
                if rows or restarted:
                    await websocket.send_json({"type": "rows", "rows": rows, "restart": restarted})
                latest = follower.latest_figure()
                if latest is not None and latest != figure:
                    figure = latest
                    await websocket.send_json({"type": "figure", "url": f"/files/{latest}", "name": latest})
                await asyncio.wait({closed}, timeout=WATCH_SECONDS)
        except (WebSocketDisconnect, RuntimeError):  # the page closed (RuntimeError: while a message was sent)
            pass
        except WganError as error:  # the folder changed under us (the run deleted, its log edited by hand)
            log.warning("watching %s: %s", path, error)
            with contextlib.suppress(Exception):
                await websocket.send_json({"type": "error", "message": " ".join(str(error).split())})
                await websocket.close(code=WS_SERVER_ERROR)
        finally:
            closed.cancel()

    async def run_file(request: Request):
        try:
            return FileResponse(figures.file(request.path_params["relative"]))  # not the log read again each time
        except WganError as error:
            return PlainTextResponse(str(error), status_code=404)

    return Starlette(routes=[Route("/", _page("watch.html")), WebSocketRoute("/ws", watch_socket),
                             Route("/files/{relative:path}", run_file),
                             Mount("/static", StaticFiles(directory=STATIC), name="static")])


def _page(name: str):
    async def page(request: Request) -> FileResponse:
        return FileResponse(STATIC / name)

    return page


def _is_loopback_name(host: str | None) -> bool:
    """Whether a request's Host header names this machine's loopback address (or is absent: a script may send
    none, and could reach the port anyway)."""
    if host is None:
        return True
    try:
        name = urlsplit(f"//{host}").hostname or ""
    except ValueError:  # an unclosed [ or a port that is not a number
        return False
    if name == "localhost" or name.endswith(".localhost"):  # RFC 6761: every .localhost name is the loopback's
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def loopback_names_only(app: ASGIApp) -> ASGIApp:
    """``app``, answering only requests whose Host names the loopback address (see the module's docstring):
    others get 400 (a web socket: closed before it opens), with a line in the log."""
    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            host = Headers(scope=scope).get("host")
            if not _is_loopback_name(host):
                log.warning("a request for host %s was refused: this server answers localhost alone", host[:100])
                refusal = (PlainTextResponse("this server answers requests for localhost or 127.0.0.1 only: open "
                                             "http://localhost:PORT/", status_code=400)
                           if scope["type"] == "http" else WebSocketClose(code=WS_POLICY_VIOLATION))
                await refusal(scope, receive, send)
                return
        await app(scope, receive, send)

    return guarded


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host``:``port`` (0: any free port); a one-line :class:`WganError` if it cannot be."""
    if not 0 <= port <= MAX_PORT:  # getaddrinfo would wrap 99999 round to 34463 without a word
        raise WganError(f"--port must be 0 to {MAX_PORT}, got {port}: give another --port (0: any free one)")
    try:
        address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as error:
        raise WganError(f"host {host!r} is not an address of this machine ({error.strerror}): try 127.0.0.1") \
            from None
    listener = socket.socket(address[0], socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind(address[4])
        listener.listen(socket.SOMAXCONN)
    except OSError as error:
        listener.close()
        remedy = ("give an address of this machine with --host, such as 127.0.0.1" if error.errno == errno.EADDRNOTAVAIL
                  else "give another --port (0: any free one)")
        raise WganError(f"cannot listen on {host}:{port} ({error.strerror}): {remedy}") from None
    return listener


def _no_traceback_for_bad_frames(record: logging.LogRecord) -> bool:
    """Keep uvicorn's line about a web-socket frame of text that is not UTF-8 (the client gets close code 1007),
    without the decoder's traceback under it: bad input from a page is one line. Other errors keep theirs."""
    if record.getMessage() == "Invalid UTF-8 sequence received from client.":
        record.exc_info, record.exc_text = None, None
    return True


class _AcceptFailuresNowAndThen(logging.Filter):
    """asyncio's line for an accept that failed (out of file descriptors: many connections held open, or a low
    ``ulimit -n``), once every :data:`ACCEPT_FAILURES_LOGGED_EVERY` seconds and without its traceback: it logged
    each retry, 73,686 tracebacks in 8 seconds."""

    def __init__(self):
        super().__init__()
        self.last = -math.inf

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.getMessage().startswith("socket.accept() out of system resource"):
            return True
        now = time.monotonic()
        if now - self.last < ACCEPT_FAILURES_LOGGED_EVERY:
            return False
        self.last = now
        record.exc_info, record.exc_text = None, None
        return True


class _RequestDeadline(H11Protocol):
    """uvicorn's HTTP/1.1 connection, closed where its request's head has not all come :data:`REQUEST_SECONDS`
    after the connection opened or its last response ended. uvicorn times out an idle kept-alive connection, but
    not one that has sent part of a request: each held a file descriptor for good, and a few hundred (under
    ``ulimit -n 1024``) left the server unable to accept a page. So is one still sending a request's body then: no
    page or route takes one, and a body trickled in a byte at a time kept uvicorn's keep-alive timer off for good.
    A web socket, once upgraded, is another protocol and is not timed."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._request_deadline = self.loop.call_later(REQUEST_SECONDS, self._close_if_request_unfinished)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._request_deadline.cancel()
        self._request_deadline = self.loop.call_later(REQUEST_SECONDS, self._close_if_request_unfinished)

    def connection_lost(self, exc: Exception | None) -> None:
        self._request_deadline.cancel()
        super().connection_lost(exc)

    def _close_if_request_unfinished(self) -> None:
        waiting = self.conn.their_state in (h11.IDLE, h11.SEND_BODY) and self.transport.get_protocol() is self
        if waiting and not self.transport.is_closing():
            self.transport.close()


def uvicorn_config(app: ASGIApp) -> uvicorn.Config:
    """How uvicorn serves ``app``: quiet below warnings, web-socket messages up to :data:`MAX_FRAME_BYTES`, open pages
    given :data:`SHUTDOWN_SECONDS` to close at Ctrl-C, and a deadline for each request's head."""
    return uvicorn.Config(app, http=_RequestDeadline, log_level="warning", ws_max_size=MAX_FRAME_BYTES,
                          lifespan="off", timeout_graceful_shutdown=SHUTDOWN_SECONDS)


def serve(app: ASGIApp, listener: socket.socket, what: str) -> None:
    """Serve ``app`` on ``listener`` until Ctrl-C, after printing the address to open."""
    host, port = listener.getsockname()[:2]
    everywhere = host in ("0.0.0.0", "::")  # no browser opens that address: this machine's own one does
    shown_host = "localhost" if everywhere else f"[{host}]" if ":" in host else host
    where = " (or this machine's address from another: it listens on all of them)" if everywhere else ""
    print(f"wgan {what}: open http://{shown_host}:{port}/ in a browser{where} (Ctrl-C stops)", flush=True)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if ipaddress.ip_address(host).is_loopback:
        app = loopback_names_only(app)
    logging.getLogger("uvicorn.error").addFilter(_no_traceback_for_bad_frames)
    asyncio_log = logging.getLogger("asyncio")
    if not any(isinstance(each, _AcceptFailuresNowAndThen) for each in asyncio_log.filters):
        asyncio_log.addFilter(_AcceptFailuresNowAndThen())
    with signals_handled((signal.SIGTERM,), as_ctrl_c):  # uvicorn raises the signal again once it has shut down:
        uvicorn.Server(uvicorn_config(app)).run(sockets=[listener])  # SIGTERM then ended the process without a word
