"""wgan play and wgan watch without a browser: the settings' checks, the page's messages, the thread that trains
a page's panels, the run-folder follower, and both servers through Starlette's test client."""

import asyncio
import json
import logging
import math
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from socket import create_connection

import numpy as np
import pytest
import torch
import uvicorn
from hypothesis import given
from hypothesis import strategies as st
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect
from websockets.sync.client import connect

from wgan.cli import main
from wgan.errors import WganError
from wgan.play.panel import FRAME_SAMPLES, LANDSCAPE_SIZE, Diverged, Panel
from wgan.play.protocol import MAX_MESSAGE_CHARS, MessageError, parse
from wgan.play import server
from wgan.play.server import Outbox, listen, play_app, watch_app
from wgan.play.settings import LIMITS, panel_config, shown
from wgan.play.stage import Command, Stage
from wgan.play.watch import RunFollower
from wgan.runs import RunFolder, atomic_write_bytes

SMALL = {"width": 16, "batch_size": 32}  # a panel that steps in milliseconds
TIMEOUT = 60.0  # seconds to wait for a message from the stage's thread


# Settings ----------------------------------------------------------------------------------------------------
def test_panel_settings_fill_the_algorithms_defaults_and_blank_what_it_does_not_read():
    wgan_gp = shown(panel_config({}))
    assert wgan_gp["algorithm"] == "wgan-gp" and wgan_gp["data"] == "8gaussians"
    assert wgan_gp["penalty_weight"] == 0.1 and wgan_gp["clip"] is None  # the toy code's lambda on points
    wgan = shown(panel_config({"algorithm": "wgan", "lr": None}))
    assert (wgan["clip"], wgan["lr"], wgan["n_critic"], wgan["penalty_weight"]) == (0.01, 5e-5, 5, None)


@pytest.mark.parametrize("settings, says", [
    ({"lr": -1}, "lr must be above 0"),
    ({"lr": 0}, "lr must be above 0"),
    ({"batch_size": 0}, "batch_size must be at least 1"),
    ({"width": 10**6}, "width must be at least 1 and at most 1024"),
    ({"n_critic": 2.5}, "n_critic must be a whole number"),
    ({"n_critic": True}, "n_critic must be a whole number"),
    ({"lr": "fast"}, "lr must be a number"),
    ({"lr": float("inf")}, "lr must be a finite number"),
    ({"clip": 100}, "clip must be above 0 and at most 10"),
    ({"data": "mnist"}, "data 'mnist' is not known"),
    ({"algorithm": ["wgan"]}, "algorithm ['wgan'] is not known"),
    ({"depth": 3}, "setting 'depth' cannot be changed here"),
    ([1, 2], "settings must be an object"),
    ({"batch_size": 10**400}, "batch_size must be at least 1 and at most 4096, got a number of 401 digits"),
    ({"lr": 10**400}, "lr must be above 0 and at most 1, got a number of 401 digits"),  # an OverflowError traceback
    # each bound held, and a step took over 250 s, the page's pause waiting for it
    ({"width": 1024, "batch_size": 4096, "n_critic": 100}, "batch_size 4096, width 1024 and n_critic 100 make a "
                                                           "step 1,280 times the default panel's work, over the 64"),
    # WGAN's warm-up: 100 critic steps for the first 25 iterations, 95 s each
    ({"algorithm": "wgan", "width": 1024, "batch_size": 4096}, "width 1024 and the warm-up's 100 critic steps make a "
                                                               "step 1,280 times"),
])
def test_bad_panel_settings_are_one_line_naming_the_setting(settings, says):
    with pytest.raises(WganError, match=None) as raised:
        panel_config(settings)
    assert says in str(raised.value) and "\n" not in str(raised.value)


def test_every_limit_admits_its_bounds():
    for name, limit in LIMITS.items():
        assert limit.check(name, limit.high) == limit.high
        if not limit.open_low:
            assert limit.check(name, limit.low) == limit.low


# Messages ----------------------------------------------------------------------------------------------------
def test_a_message_becomes_a_command_with_the_resolved_config():
    command = parse(json.dumps({"action": "add", "panel": "left", "settings": {"algorithm": "wgan", "seed": 3}}))
    assert (command.action, command.panel) == ("add", "left")
    assert command.config.algorithm == "wgan" and command.config.seed == 3 and command.config.clip == 0.01
    assert parse('{"action": "start", "panel": "*"}') == Command("start", "*")


@pytest.mark.parametrize("text, says, panel", [
    (b"\x00\x01", "JSON text, not binary", None),
    ("{not json", "not valid JSON", None),
    ("[1, 2]", "must be a JSON object", None),
    ('{"action": "start"}', "is not a panel name", None),
    ('{"action": "start", "panel": "../etc"}', "is not a panel name", None),
    ('{"action": "fly", "panel": "a"}', "action 'fly' is not known", "a"),
    ('{"action": "start", "panel": "a", "extra": 1}', "no field 'extra'", "a"),
    ('{"action": "start", "panel": "a", "settings": {}}', "'start' takes no settings", "a"),
    ('{"action": "add", "panel": "a", "settings": {"lr": -1}}', "lr must be above 0", "a"),
    ("x" * (MAX_MESSAGE_CHARS + 1), "too long", None),
    ("[" * 4000, "nests its JSON too deep", None),  # a RecursionError traceback, and the page's connection dropped
])
def test_malformed_messages_are_one_line_errors_naming_their_panel(text, says, panel):
    with pytest.raises(MessageError) as raised:
        parse(text)
    assert says in str(raised.value) and "\n" not in str(raised.value)
    assert raised.value.panel == panel


_JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                            lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                                         max_size=4), max_leaves=12)


@given(st.one_of(st.text(max_size=200), st.binary(max_size=50),
                 st.fixed_dictionaries({"action": st.sampled_from(["add", "configure", "start", "x"]) | _JSON_VALUES,
                                        "panel": st.sampled_from(["a", "*"]) | _JSON_VALUES},
                                       optional={"settings": st.dictionaries(
                                           st.sampled_from(["lr", "batch_size", "width", "data", "algorithm",
                                                            "n_critic", "clip", "seed", "depth"]), _JSON_VALUES,
                                           max_size=4) | _JSON_VALUES}).map(json.dumps)))
def test_any_message_is_a_command_or_one_line_saying_what_is_wrong(text):
    try:
        command = parse(text)
    except MessageError as error:
        assert str(error) and "\n" not in str(error)
    else:
        assert isinstance(command, Command)


# A panel -----------------------------------------------------------------------------------------------------
def test_a_panels_frame_shows_its_points_landscape_and_the_exact_w1_of_what_it_draws():
    panel = Panel(panel_config(SMALL))
    frame = panel.frame()
    assert frame["iteration"] == 0
    assert len(frame["real"]) == len(frame["fake"]) == FRAME_SAMPLES
    assert len(frame["landscape"]) == LANDSCAPE_SIZE ** 2
    assert frame["modes_total"] == 8 and 0 <= frame["modes_covered"] <= 8
    from wgan.distances import w1
    assert frame["w1"] == pytest.approx(w1(np.array(frame["real"]), np.array(frame["fake"])), abs=1e-3)
    panel.step()
    panel.step()
    later = panel.frame()
    assert later["iteration"] == 2 and later["real"] == frame["real"]  # the same real points every frame
    assert later["fake"] != frame["fake"]  # the generator moved


def test_a_panel_trains_exactly_as_the_trainer_does():
    """Two panels of one seed take the same steps: what the page compares is the project's training."""
    first, second = (Panel(panel_config(SMALL | {"algorithm": "wgan"})) for _ in range(2))
    for _ in range(3):
        first.step()
        second.step()
    for a, b in zip(first.trainer.generator.parameters(), second.trainer.generator.parameters()):
        assert torch.equal(a, b)
    assert first.iteration == 3


def test_a_diverged_panel_says_so():
    panel = Panel(panel_config(SMALL))
    with torch.no_grad():
        next(panel.trainer.generator.parameters()).fill_(math.nan)
    with pytest.raises(Diverged, match="lower the learning rate"):
        panel.frame()


# The stage ---------------------------------------------------------------------------------------------------
class Page:
    """What a page receives from a stage."""

    def __init__(self):
        self.messages: queue.SimpleQueue = queue.SimpleQueue()
        self.stage = Stage(self.messages.put, frame_seconds=0.0)

    def send(self, action, panel, **settings):
        self.stage.submit(Command(action, panel, panel_config(SMALL | settings) if settings or action in
                                  ("add", "configure") else None))

    def wait_for(self, test, timeout=TIMEOUT):
        """The first message that passes ``test``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                message = self.messages.get(timeout=0.5)
            except queue.Empty:
                continue
            if test(message):
                return message
        raise AssertionError("no such message")


@pytest.fixture
def page():
    page = Page()
    yield page
    page.stage.close()


def test_a_closed_page_leaves_the_commands_it_queued(page):
    # a page that sent 3000 steps and closed kept a core busy for minutes, every step trained and drawn
    page.send("add", "a")
    page.wait_for(lambda m: m["type"] == "panel")
    for _ in range(3000):
        page.send("step", "a")
    page.stage.close(timeout=TIMEOUT)
    assert not page.stage._thread.is_alive()
    frames = []
    while not page.messages.empty():
        message = page.messages.get()
        frames += [message["iteration"]] if message["type"] == "frame" else []
    assert max(frames, default=0) < 1000


def test_panels_started_together_stay_at_the_same_iteration(page):
    page.send("add", "gan", algorithm="gan")
    page.send("add", "wgan", algorithm="wgan")
    page.send("start", "*")
    page.wait_for(lambda m: m["type"] == "frame" and m["iteration"] >= 5)
    page.send("pause", "*")
    paused = [page.wait_for(lambda m, name=name: m["type"] == "panel" and m["panel"] == name and not m["running"])
              for name in ("gan", "wgan")]
    assert paused[0]["iteration"] == paused[1]["iteration"] >= 5
    assert paused[0]["estimate_name"] == "JS estimate" and paused[1]["estimate_name"] == "W estimate"


def test_step_reset_and_new_settings_take_effect(page):
    page.send("add", "a")
    page.wait_for(lambda m: m["type"] == "frame" and m["iteration"] == 0)
    page.send("step", "a")
    page.wait_for(lambda m: m["type"] == "frame" and m["iteration"] == 1)
    page.send("configure", "a", n_critic=1, lr=0.01)
    changed = page.wait_for(lambda m: m["type"] == "panel")
    assert changed["iteration"] == 0 and changed["settings"]["n_critic"] == 1 and changed["settings"]["lr"] == 0.01
    page.send("step", "a")
    page.wait_for(lambda m: m["type"] == "frame" and m["iteration"] == 1)
    page.send("reset", "a")
    reset = page.wait_for(lambda m: m["type"] == "panel")
    assert reset["iteration"] == 0 and reset["settings"]["n_critic"] == 1  # a reset keeps the settings
    page.send("remove", "a")
    assert page.wait_for(lambda m: m["type"] in ("removed", "error"))["type"] == "removed"


def test_a_panel_stops_at_its_iterations_and_says_what_to_do(page):
    page.send("add", "a", iterations=3)
    page.send("start", "a")
    done = page.wait_for(lambda m: m["type"] == "panel" and m["note"])
    assert done["iteration"] == 3 and not done["running"] and "finished its 3 iterations" in done["note"]
    page.send("start", "a")
    again = page.wait_for(lambda m: m["type"] == "panel")
    assert not again["running"] and "Reset" in again["note"]
    page.send("step", "a")  # it trained a fourth iteration (at lr 0, with the decay's end past)
    stepped = page.wait_for(lambda m: m["type"] == "panel")
    assert stepped["iteration"] == 3 and "finished its 3 iterations" in stepped["note"]


def test_a_panel_that_fails_stops_alone_and_the_page_is_told(page):
    page.send("add", "good")
    page.send("add", "bad")
    page.wait_for(lambda m: m["type"] == "frame" and m["panel"] == "bad")

    def poison():  # what a rate far too high does to a run, at once
        with torch.no_grad():
            next(page.stage.panels["bad"].trainer.critic.parameters()).fill_(math.inf)

    page.stage.panels["bad"].step = poison
    page.send("start", "*")
    error = page.wait_for(lambda m: m["type"] == "error")
    assert error["panel"] == "bad" and "diverged" in error["message"] and error["running"] is False
    page.wait_for(lambda m: m["type"] == "frame" and m["panel"] == "good" and m["iteration"] >= 3)


@pytest.mark.parametrize("action, panel, says", [
    ("start", "nobody", "there is no panel 'nobody'"),
    ("add", "*", "needs one panel's name"),
])
def test_commands_the_stage_cannot_carry_out_are_errors(page, action, panel, says):
    page.send(action, panel)
    assert says in page.wait_for(lambda m: m["type"] == "error")["message"]


def test_a_second_panel_of_one_name_and_a_fifth_panel_are_refused(page):
    for name in "abcd":
        page.send("add", name)
    page.send("add", "a")
    assert "exists already" in page.wait_for(lambda m: m["type"] == "error")["message"]
    page.send("add", "e")
    assert "at most 4 panels" in page.wait_for(lambda m: m["type"] == "error")["message"]


def test_the_outbox_keeps_only_the_newest_frame_of_a_panel():
    async def scenario():
        outbox = Outbox(asyncio.get_running_loop())
        for message in ({"type": "frame", "panel": "a", "iteration": 1},
                        {"type": "frame", "panel": "b", "iteration": 1},
                        {"type": "frame", "panel": "a", "iteration": 2}, {"type": "panel", "panel": "b"}):
            outbox.put(message)
        await asyncio.sleep(0)
        return await outbox.take()

    taken = asyncio.run(scenario())
    assert taken == [{"type": "panel", "panel": "b"}, {"type": "frame", "panel": "a", "iteration": 2}]


# The play server ---------------------------------------------------------------------------------------------
def _receive_until(socket, test, limit=2000):
    for _ in range(limit):
        message = socket.receive_json()
        if test(message):
            return message
    raise AssertionError("no such message")


def test_the_play_server_serves_the_page_and_survives_bad_messages(caplog):
    caplog.set_level("WARNING", logger="wgan.play")
    with TestClient(play_app()) as client:
        assert "wgan play" in client.get("/").text
        assert client.get("/static/play.js").status_code == 200
        with client.websocket_connect("/ws") as socket:
            hello = socket.receive_json()
            assert hello["type"] == "hello" and "wgan-gp" in hello["choices"]["algorithm"]
            socket.send_bytes(b"\xff")
            assert "not binary" in _receive_until(socket, lambda m: m["type"] == "error")["message"]
            socket.send_text('{"action": "add", "panel": "p1", "settings": {"batch_size": 0}}')
            error = _receive_until(socket, lambda m: m["type"] == "error")
            assert error["panel"] == "p1" and "batch_size must be at least 1" in error["message"]
            assert any("batch_size must be at least 1" in record.getMessage() for record in caplog.records)  # logged
            socket.send_text(json.dumps({"action": "add", "panel": "p1", "settings": SMALL}))
            frame = _receive_until(socket, lambda m: m["type"] == "frame")
            assert frame["panel"] == "p1" and frame["iteration"] == 0
            socket.send_text('{"action": "step", "panel": "p1"}')
            assert _receive_until(socket, lambda m: m["type"] == "frame")["iteration"] == 1
        with client.websocket_connect("/ws") as socket:  # another page, after the first closed
            assert socket.receive_json()["type"] == "hello"
        with client.websocket_connect("/ws", headers={"origin": "http://testserver"}) as socket:  # its own page
            assert socket.receive_json()["type"] == "hello"


@pytest.mark.parametrize("app", ["play", "watch"])
def test_a_web_socket_opened_by_a_page_of_another_site_is_refused(app, run_folder, caplog):
    # any site open in the user's browser could open the socket and train on this machine
    caplog.set_level("WARNING", logger="wgan.play")
    with TestClient(play_app() if app == "play" else watch_app(run_folder)) as client:
        with pytest.raises(WebSocketDisconnect) as refused:
            with client.websocket_connect("/ws", headers={"origin": "http://evil.example"}) as socket:
                socket.receive_json()
    assert refused.value.code == 1008
    assert any("a page of http://evil.example was refused" in record.getMessage() for record in caplog.records)


@pytest.mark.parametrize("host, served", [("localhost:8000", True), ("127.0.0.1:8000", True), ("[::1]:8000", True),
                                         ("app.localhost", True), ("rebound.example:8000", False),
                                         ("127.0.0.1.rebound.example", False), ("[::1", False)])
def test_a_server_on_the_loopback_answers_only_requests_addressed_to_the_loopback(host, served, caplog):
    # a site whose name its owner points at 127.0.0.1 (DNS rebinding) passed the Origin check: its page's Origin
    # and Host agree, and it could open the socket and train, or read a watched run's figures
    caplog.set_level("WARNING", logger="wgan.play")
    with TestClient(server.loopback_names_only(play_app()), base_url="http://testserver") as client:
        page = client.get("/", headers={"host": host})
        assert (page.status_code == 200) == served
        if served:
            with client.websocket_connect("/ws", headers={"host": host, "origin": f"http://{host}"}) as socket:
                assert socket.receive_json()["type"] == "hello"
        else:
            assert page.text.startswith("this server answers requests for localhost or 127.0.0.1 only")
            with pytest.raises(WebSocketDisconnect) as refused:
                with client.websocket_connect("/ws", headers={"host": host, "origin": f"http://{host}"}) as socket:
                    socket.receive_json()
            assert refused.value.code == 1008
            assert any(f"a request for host {host} was refused" in record.getMessage() for record in caplog.records)


def test_wgan_watch_on_the_loopback_refuses_a_request_for_another_host(run_folder):
    process = subprocess.Popen([sys.executable, "-m", "wgan", "watch", str(run_folder), "--port", "0"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        port = re.search(r":(\d+)/ in a browser", process.stdout.readline()).group(1)
        answers = {}
        for host in ("localhost", "rebound.example"):
            request = urllib.request.Request(f"http://127.0.0.1:{port}/", headers={"Host": f"{host}:{port}"})
            try:
                answers[host] = urllib.request.urlopen(request, timeout=TIMEOUT).status
            except urllib.error.HTTPError as error:
                answers[host] = error.code
    finally:
        process.kill()
        process.communicate()
    assert answers == {"localhost": 200, "rebound.example": 400}


def test_ctrl_c_during_a_long_step_stops_play_at_once_in_one_line():
    # the page's handler waited for the step (up to 30 s), uvicorn cancelled it with a traceback after 5 s, and the
    # interpreter's teardown aborted in the step still running: exit -6 after 30 s (2-core Intel Xeon, 2026-12-06)
    process = subprocess.Popen([sys.executable, "-m", "wgan", "play", "--port", "0"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        port = re.search(r":(\d+)/ in a browser", process.stdout.readline()).group(1)
        with _socket_when_served(port) as socket:
            socket.send(json.dumps({"action": "add", "panel": "h", "settings": {
                "width": 1024, "batch_size": 4096, "n_critic": 5}}))  # the largest step, seconds on 2 cores
            socket.send(json.dumps({"action": "start", "panel": "h"}))
            while json.loads(socket.recv(timeout=TIMEOUT))["type"] != "frame":  # iteration 0's: the step begins
                pass
            time.sleep(0.5)
            asked = time.monotonic()
            process.send_signal(signal.SIGINT)
            _, errors = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130 and time.monotonic() - asked < 10
    assert "Traceback" not in errors and errors.strip().splitlines()[-1] == "wgan play: stopped"


class _StageStandIn:
    """A page's stage as the server counts it: alive until ``ends_after`` seconds of waiting (None: never)."""

    def __init__(self, closing: bool, ends_after: float | None):
        self.closing, self.ends_after, self.alive = closing, ends_after, True

    def wait(self, timeout: float) -> None:
        if self.ends_after is not None and self.ends_after <= timeout:
            self.alive = False


def test_a_closed_page_counts_until_its_step_ends(monkeypatch):
    # a closed page's thread went on with its step (minutes, at the largest settings) uncounted: twelve pages
    # opened and closed in turn trained at once, 15 GB on a 23 GB machine
    monkeypatch.setattr(server, "MAX_PAGES", 1)
    still_stepping = {_StageStandIn(closing=True, ends_after=None)}
    assert not asyncio.run(server._room(still_stepping)) and len(still_stepping) == 1
    ending = {_StageStandIn(closing=True, ends_after=0.1)}
    assert asyncio.run(server._room(ending)) and not ending  # waited for, and gone
    assert not asyncio.run(server._room({_StageStandIn(closing=False, ends_after=None)}))  # an open page


def test_a_pages_failed_commands_are_logged_under_the_same_cap_as_its_bad_messages(caplog):
    # 2000 "start" of a panel that is not there logged 2000 lines
    caplog.set_level("INFO", logger="wgan.play")
    with TestClient(play_app()) as client, client.websocket_connect("/ws") as page:
        assert page.receive_json()["type"] == "hello"
        for _ in range(server.LOGGED_ERRORS + 15):
            page.send_text(json.dumps({"action": "start", "panel": "zz"}))
        errors = 0
        while errors < server.LOGGED_ERRORS + 15:
            errors += page.receive_json()["type"] == "error"
    lines = [record.getMessage() for record in caplog.records]
    assert sum("there is no panel 'zz'" in line for line in lines) == server.LOGGED_ERRORS
    assert any(line.endswith("(15 more problems not logged)") for line in lines)
    assert all(line.startswith("page testclient") for line in lines if "there is no panel" in line)


def test_the_servers_log_keeps_a_bad_frame_and_failed_accepts_to_a_line_now_and_then():
    # 200 half-sent requests under `ulimit -n 120` exhausted the descriptors: asyncio logged 73,686 tracebacks in
    # 8 s; a text frame that is not UTF-8 logged the decoder's traceback
    def record(name, message):
        try:
            b"\xff".decode()
        except UnicodeDecodeError:
            return logging.LogRecord(name, logging.ERROR, "", 0, message, None, sys.exc_info())

    bad_frame = record("uvicorn.error", "Invalid UTF-8 sequence received from client.")
    assert server._no_traceback_for_bad_frames(bad_frame) and bad_frame.exc_info is None
    our_bug = record("uvicorn.error", "Exception in ASGI application")  # keeps its traceback
    assert server._no_traceback_for_bad_frames(our_bug) and our_bug.exc_info is not None
    accepts = server._AcceptFailuresNowAndThen()
    failures = [record("asyncio", "socket.accept() out of system resource\nsocket: <socket>") for _ in range(1000)]
    assert [accepts.filter(failure) for failure in failures].count(True) == 1 and failures[0].exc_info is None


def test_a_connection_that_never_finishes_its_request_is_closed_and_an_open_page_is_not(monkeypatch):
    # each half-sent request held its file descriptor for good: a few hundred left the server unable to accept a page
    monkeypatch.setattr(server, "REQUEST_SECONDS", 0.5)
    listener = listen("127.0.0.1", 0)
    address = listener.getsockname()
    served = uvicorn.Server(server.uvicorn_config(play_app()))
    thread = threading.Thread(target=served.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    try:
        with _socket_when_served(address[1]) as page, create_connection(address) as half_sent:
            assert json.loads(page.recv(timeout=TIMEOUT))["type"] == "hello"
            half_sent.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # no blank line: the head goes on
            half_sent.settimeout(TIMEOUT)
            sent = time.monotonic()
            assert half_sent.recv(1) == b""  # closed by the server
            assert time.monotonic() - sent < 5
            time.sleep(1.0)  # the page's web socket, open for twice the deadline, still answers
            page.send("x")
            assert "is not valid JSON" in json.loads(page.recv(timeout=TIMEOUT))["message"]
        with create_connection(address) as trickling:  # a body a byte at a time kept uvicorn's keep-alive timer off
            trickling.sendall(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\n")
            trickling.settimeout(0.2)
            sent, closed = time.monotonic(), False
            while not closed and time.monotonic() - sent < 5:
                try:
                    closed = trickling.recv(65536) == b""  # its 405 first, then the end
                except TimeoutError:
                    try:
                        trickling.sendall(b"x")
                    except OSError:  # reset by the server
                        closed = True
            assert closed
        with urllib.request.urlopen(f"http://127.0.0.1:{address[1]}/", timeout=TIMEOUT) as answer:
            assert answer.status == 200  # a whole request is answered
    finally:
        served.should_exit = True
        thread.join(timeout=30)


def test_small_wordings_of_play_and_watch(capsys):
    assert main(["watch", "a", "b"]) == 2  # it named `wgan --help`, which lists no option of watch
    assert capsys.readouterr().err.strip() == "wgan watch: error: unrecognized arguments: b (see wgan watch --help)"
    with pytest.raises(WganError, match="seed must be at least 0 and at most 2147483647, got"):  # not 2.14748e+09
        panel_config({"seed": 2**40})


def _socket_when_served(port: str):
    """A client of the play page's web socket, once the server (which prints its address first) answers."""
    for _ in range(100):
        try:
            return connect(f"ws://127.0.0.1:{port}/ws")
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nothing answered on port {port}")


# Watching a run folder ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    import wgan

    out = tmp_path_factory.mktemp("trained")
    wgan.train(data="8gaussians", iterations=4, width=16, batch_size=32, log_every=2, eval_every=2,
               eval_samples=200, out=str(out), name="run", progress=False)
    return out / "run"


@pytest.fixture
def run_folder(trained_run, tmp_path):
    """A copy of a run folder trained once for the module: each test may change its own."""
    return shutil.copytree(trained_run, tmp_path / "run")


def test_the_follower_reads_whole_appended_rows_and_starts_over_when_the_log_shrinks(run_folder):
    follower = RunFollower(run_folder)
    rows, restarted = follower.new_rows()
    assert [row["iteration"] for row in rows if "train/estimate" in row] == [2, 4] and not restarted
    assert follower.new_rows() == ([], False)
    metrics = run_folder / "metrics.jsonl"
    with open(metrics, "a") as file:
        file.write('{"iteration": 6, "train/estimate": 0.5}\n{"iteration": 8, "train/es')  # the last half-written
    assert follower.new_rows()[0] == [{"iteration": 6, "train/estimate": 0.5}]
    metrics.write_text('{"iteration": 2, "train/estimate": 0.1}\n')  # rewound by a resume
    assert follower.new_rows() == ([{"iteration": 2, "train/estimate": 0.1}], True)
    # rewound and grown past the old size between two reads: read from the old offset, it was "edited by hand"
    rewound = [{"iteration": iteration, "train/estimate": 0.2} for iteration in range(1, 40)]
    atomic_write_bytes(metrics, "".join(json.dumps(row) + "\n" for row in rewound).encode())
    assert follower.new_rows() == (rewound, True)
    assert follower.latest_figure() == "samples/iter_000004.png"


def test_a_line_edited_into_a_followed_log_is_named_by_its_line_in_the_file(run_folder):
    # the page was told line 1: the line within what was appended since the last look
    follower = RunFollower(run_folder)
    lines = len(follower.new_rows()[0])
    with open(run_folder / "metrics.jsonl", "a") as file:
        file.write("garbage\n")
    with pytest.raises(WganError, match=f"metrics.jsonl line {lines + 1} is not a row of the log"):
        follower.new_rows()


@pytest.mark.parametrize("relative", ["../outside.png", "config.toml", "samples/iter_999999.png", "/etc/passwd",
                                      "samples/\x00.png", "a" * 300 + ".png", "a/" * 3000 + "x.png"])  # 500s
def test_the_follower_serves_nothing_but_the_runs_figures(run_folder, relative):
    (run_folder.parent / "outside.png").write_bytes(b"png")
    with pytest.raises(WganError, match="is not a figure of run"):
        RunFollower(run_folder).file(relative)


def test_the_watch_server_streams_rows_and_the_newest_figure(run_folder):
    with TestClient(watch_app(run_folder)) as client:
        assert "wgan watch" in client.get("/").text
        with client.websocket_connect("/ws") as socket:
            assert socket.receive_json() | {"eval_every": 2} == {
                "type": "run", "name": "run", "algorithm": "wgan-gp", "data": "8gaussians", "iterations": 4,
                "eval_every": 2}
            rows = socket.receive_json()
            assert rows["type"] == "rows" and any("eval/w1" in row for row in rows["rows"])
            figure = socket.receive_json()
            assert figure == {"type": "figure", "url": "/files/samples/iter_000004.png",
                              "name": "samples/iter_000004.png"}
        assert client.get(figure["url"]).content.startswith(b"\x89PNG")
        assert client.get("/files/config.toml").status_code == 404
        assert client.get("/files/../../etc/passwd").status_code == 404


def test_the_newest_figure_is_the_latest_evaluation_past_a_million_iterations(run_folder):
    samples = run_folder / "samples"  # by name, iter_999000 came after iter_1000000
    for iteration in (999000, 1000000):
        (samples / f"iter_{iteration:06d}.png").write_bytes((samples / "iter_000004.png").read_bytes())
    assert RunFollower(run_folder).latest_figure() == "samples/iter_1000000.png"
    assert [figure.name for figure in RunFolder.open(run_folder).evaluation_figures()][-2:] == [
        "iter_999000.png", "iter_1000000.png"]  # progress.gif's frames too


def test_the_watch_page_is_told_when_the_run_folder_goes_or_another_run_takes_its_place(run_folder, tmp_path):
    import wgan

    follower = RunFollower(run_folder)
    shutil.rmtree(run_folder)  # the page blanked its charts and said "following" on
    with pytest.raises(WganError, match="the run folder '.*run' is gone .deleted or moved.: nothing more to follow"):
        follower.new_rows()
    common = dict(data="8gaussians", width=16, batch_size=32, eval_samples=200, out=str(tmp_path), progress=False)
    wgan.train(name="run", iterations=4, log_every=1, eval_every=4, **common)
    wgan.train(name="other", algorithm="wgan", iterations=3, log_every=3, eval_every=3, **common)
    with TestClient(watch_app(run_folder)) as client:
        with client.websocket_connect("/ws") as socket:
            assert [socket.receive_json()["type"] for _ in range(3)] == ["run", "rows", "figure"]
            for name in ("config.toml", "metrics.jsonl"):  # another run in its place, with other settings
                os.replace(tmp_path / "other" / name, run_folder / name)
            header = socket.receive_json()  # the header stayed that of the first run
            assert header["type"] == "run" and (header["algorithm"], header["iterations"]) == ("wgan", 3)
        shutil.rmtree(run_folder)
        with client.websocket_connect("/ws") as socket:  # a reload: a traceback in the server's log, no message
            assert f"'{run_folder}' does not exist" in socket.receive_json()["message"]
            with pytest.raises(WebSocketDisconnect) as closed:  # with a close frame that says why
                socket.receive_json()
            assert closed.value.code == 1011


# The commands ------------------------------------------------------------------------------------------------
def test_a_port_in_use_is_one_line():
    taken = listen("127.0.0.1", 0)
    port = taken.getsockname()[1]
    try:
        with pytest.raises(WganError, match=f"cannot listen on 127.0.0.1:{port}.*give another --port"):
            listen("127.0.0.1", port)
    finally:
        taken.close()


def test_watching_a_folder_whose_config_does_not_read_is_one_line_before_serving(tmp_path, capsys, monkeypatch):
    (tmp_path / "config.toml").write_text("lr = = 1\n")
    monkeypatch.setattr(server, "serve", lambda *arguments: pytest.fail("served a folder whose config does not read"))
    assert main(["watch", str(tmp_path), "--port", "0"]) == 2
    stderr = capsys.readouterr().err
    assert "config.toml' is not valid TOML" in stderr and len(stderr.strip().splitlines()) == 1


def test_an_address_not_of_this_machine_asks_for_another_host_not_another_port():
    with pytest.raises(WganError, match=r"cannot listen on 192\.0\.2\.1:0 .*give an address of this machine with "
                                        r"--host, such as 127\.0\.0\.1"):
        listen("192.0.2.1", 0).close()  # TEST-NET-1: an address no machine here has


@pytest.mark.parametrize("port", [-1, 65536, 99999])
def test_a_port_out_of_range_is_one_line(port):
    with pytest.raises(WganError, match=f"--port must be 0 to 65535, got {port}"):
        listen("127.0.0.1", port).close()


@pytest.mark.parametrize("arguments, says", [
    (["watch", "nowhere"], "'nowhere' does not exist: give a run folder"),
    (["watch", "."], "'.' is not a run folder (no config.toml)"),
    (["play", "--threads", "0"], "--threads must be from 1 to this machine's"),
    (["play", "--threads", "100000"], "--threads must be from 1 to this machine's"),  # the server answered 500
    (["play", "--device", "tpu"], "device 'tpu' is not known"),
])
def test_the_commands_bad_input_is_one_line_and_exit_2(arguments, says, capsys):
    assert main(arguments) == 2
    stderr = capsys.readouterr().err
    assert says in stderr and len(stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("command", ["play", "watch"])
def test_sigterm_stops_the_server_with_one_line_as_ctrl_c_does(command, run_folder):
    # uvicorn raised the signal again once it had shut down, and the process ended of it without a word (-15)
    process = subprocess.Popen([sys.executable, "-m", "wgan", command, *([str(run_folder)] if command == "watch"
                                                                          else []), "--port", "0"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        port = re.search(r":(\d+)/ in a browser", process.stdout.readline()).group(1)
        with _socket_when_served(port):
            process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 130 and stderr.strip().splitlines()[-1] == f"wgan {command}: stopped"  # after the log


def test_pages_beyond_the_servers_limit_are_refused_with_a_line_and_a_silent_flood_is_bounded(monkeypatch, caplog):
    # twenty pages of a panel each took 1.3 GB and 43 threads; a client that sent and never read grew the outbox
    # without bound, and the log by one line per bad message
    caplog.set_level("INFO", logger="wgan.play")
    monkeypatch.setattr(server, "MAX_PAGES", 1)
    with TestClient(play_app()) as client:
        with client.websocket_connect("/ws") as first:
            assert first.receive_json()["type"] == "hello"
            with client.websocket_connect("/ws") as second:
                assert "this server has 1 pages open (or closed and finishing a step) already" in \
                    second.receive_json()["message"]
                with pytest.raises(WebSocketDisconnect):
                    second.receive_json()
            for _ in range(server.MAX_UNSENT + 50):
                first.send_text("x")
        with client.websocket_connect("/ws") as third:  # the first closed: room again
            assert third.receive_json()["type"] == "hello"
    warnings = [record for record in caplog.records if "is not valid JSON" in record.getMessage()]
    assert len(warnings) == server.LOGGED_ERRORS
    assert any(f"({server.MAX_UNSENT + 50 - server.LOGGED_ERRORS} more problems not logged)" in
               record.getMessage() for record in caplog.records)
    outbox = server.Outbox(asyncio.new_event_loop())
    for number in range(server.MAX_UNSENT + 10):
        outbox._put({"type": "error", "panel": None, "message": str(number)})
    assert len(outbox.messages) == server.MAX_UNSENT and outbox.messages[0]["message"] == "10"
