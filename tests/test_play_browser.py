"""wgan play end to end in a real browser: the server started as a user starts it, its page in Debian's Chromium
(the package ``chromium``, as README.md's first commands say) driven by Playwright. Nothing is downloaded:
Playwright runs the system's browser."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

CHROMIUM = os.environ.get("WGAN_CHROMIUM", "/usr/bin/chromium")
# Headless, and no connection attempts of its own (updates, sync): the test machine has no network.
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
WAIT_MS = 90_000  # the longest wait for the page to show something (a slow, shared 2-core machine)


@pytest.fixture(scope="module")
def address():
    """A `wgan play` server on a free port, as a user starts it; its address."""
    server = subprocess.Popen([sys.executable, "-m", "wgan", "play", "--port", "0", "--threads", "1"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first_line = server.stdout.readline()
    found = re.search(r"http://[^ ]+/", first_line)
    if found is None:
        server.kill()
        pytest.fail(f"wgan play did not print its address: {first_line!r} {server.stderr.read()}")
    yield found.group(0)
    server.terminate()
    assert server.wait(30) == 130  # stopped by SIGTERM as by Ctrl-C, with its one line


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"no Chromium at {CHROMIUM}: install Debian's package (apt-get install chromium), or name "
                    "another Chromium in WGAN_CHROMIUM")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


def _iteration(panel) -> int:
    return int(panel.locator(".value-iteration").inner_text())


def test_a_wgan_gp_panel_trains_live_and_its_controls_take_effect(address, browser):
    page = browser.new_page()
    failures = []
    page.on("pageerror", lambda error: failures.append(error))
    page.goto(address + "?algorithms=wgan-gp")
    panel = page.locator("#panel-p1")
    expect(panel.locator(".title")).to_have_text("wgan-gp on 8gaussians", timeout=WAIT_MS)
    expect(panel.locator(".value-w1")).to_contain_text("exact W1", timeout=WAIT_MS)
    first = panel.locator(".numbers").inner_text()

    panel.locator(".toggle").click()
    expect(panel.locator(".toggle")).to_have_text("Pause", timeout=WAIT_MS)
    page.wait_for_function("Number(document.querySelector('#panel-p1 .value-iteration').textContent) >= 5",
                           timeout=WAIT_MS)
    later = panel.locator(".numbers").inner_text()
    assert later != first  # the estimate and W1 moved with the frames
    estimate, w1 = (float(re.search(pattern, later).group(1)) for pattern in (r"W estimate (-?[\d.]+)",
                                                                              r"exact W1 ([\d.]+)"))
    assert w1 > 0 and estimate != float(re.search(r"W estimate (-?[\d.]+)", first).group(1))

    # Another algorithm: the server resets the panel with WGAN's settings (its clip value, no penalty weight).
    before = _iteration(panel)
    panel.locator("select[name=algorithm]").select_option("wgan")
    expect(panel.locator(".title")).to_have_text("wgan on 8gaussians", timeout=WAIT_MS)
    expect(panel.locator("input[name=clip]")).to_have_value("0.01", timeout=WAIT_MS)
    expect(panel.locator("input[name=penalty_weight]")).to_be_disabled()
    expect(panel.locator("input[name=lr]")).to_have_value("0.00005")
    assert _iteration(panel) < before or _iteration(panel) < 5

    # A bad value is one line on the panel, and the panel trains on with its settings.
    panel.locator("input[name=lr]").fill("-1")
    panel.locator("input[name=lr]").dispatch_event("change")
    expect(panel.locator(".error")).to_contain_text("lr must be above 0", timeout=WAIT_MS)
    now = _iteration(panel)
    page.wait_for_function(f"Number(document.querySelector('#panel-p1 .value-iteration').textContent) > {now}",
                           timeout=WAIT_MS)

    # A malformed message from the page is answered, and the connection stays up.
    page.evaluate("socket.send('{not json')")
    expect(page.locator("#page-error")).to_contain_text("not valid JSON", timeout=WAIT_MS)
    panel.locator(".toggle").click()
    expect(panel.locator(".toggle")).to_have_text("Start", timeout=WAIT_MS)
    assert page.locator("#connection").inner_text() == "connected" and not failures
    page.close()


def test_an_address_asking_for_unknown_algorithms_or_too_many_panels_opens_the_rest_and_says_so(address, browser):
    page = browser.new_page()  # two "not started" panels showed algorithm gan and blank fields
    page.goto(address + "?algorithms=gan,wgan,wgan-gp,wgan-lp,gan-ns,foo")
    expect(page.locator("#panel-p4 .title")).to_have_text("wgan-lp on 8gaussians", timeout=WAIT_MS)
    assert page.locator(".panel").count() == 4
    expect(page.locator("#page-error")).to_have_text(
        "the address asks for foo: the algorithms are gan, gan-ns, wgan, wgan-gp, wgan-lp; a page holds at most 4 "
        "panels: gan-ns left out")
    page.close()


def test_the_watch_page_follows_a_run_folder_as_it_grows(tmp_path, browser):
    import wgan

    wgan.train(data="8gaussians", iterations=4, width=16, batch_size=32, log_every=2, eval_every=2,
               eval_samples=200, out=str(tmp_path), name="run", progress=False)
    metrics = tmp_path / "run" / "metrics.jsonl"  # the Frechet distance beside W1, as an image run logs them
    rows = [json.loads(line) for line in metrics.read_text().splitlines()]
    scored = [row | ({"eval/fd": 11.87 + 0.03 * row["iteration"]} if "eval/w1" in row else {}) for row in rows]
    metrics.write_text("".join(json.dumps(row) + "\n" for row in scored))
    server = subprocess.Popen([sys.executable, "-m", "wgan", "watch", str(tmp_path / "run"), "--port", "0"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        address = re.search(r"http://[^ ]+/", server.stdout.readline()).group(0)
        page = browser.new_page()
        page.goto(address)
        expect(page.locator("#run-name")).to_have_text("run", timeout=WAIT_MS)
        expect(page.locator("#latest")).to_contain_text("iteration 4 of 4", timeout=WAIT_MS)
        expect(page.locator("#latest")).to_contain_text("Frechet distance 11.9900")  # not the pixels' W1
        assert page.evaluate("axisLabels(11.87, 11.93)") == ["11.87", "11.93"]  # 11.9 at the top and the bottom
        expect(page.locator("#figure")).to_have_attribute("src", re.compile(r"/files/samples/iter_000004\.png"))
        page.wait_for_function("document.getElementById('figure').naturalWidth > 0", timeout=WAIT_MS)  # loaded
        with open(tmp_path / "run" / "metrics.jsonl", "a") as log:  # what a training process appends next
            log.write('{"iteration": 6, "train/estimate": 0.25}\n')
        expect(page.locator("#latest")).to_contain_text("iteration 6 of 4", timeout=WAIT_MS)
        expect(page.locator("#connection")).to_have_text("finished (following, should a resume extend it)")
        page.close()
    finally:
        server.terminate()
        server.wait(30)
