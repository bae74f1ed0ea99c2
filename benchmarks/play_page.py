"""The live page of `wgan play`: frames per second in the browser, and what the page costs training.

    python benchmarks/play_page.py                          # 2 rounds of 30 s windows, WGAN-GP toy defaults
    python benchmarks/play_page.py --rounds 0 --screenshot docs/images/play.png   # README's picture only

Alternates windows of equal length, one kind at a time (never both at once on the cores):
- without the page: a :class:`~wgan.play.panel.Panel` stepped in this process, no frames;
- with the page: `wgan play` (a subprocess, the same torch threads) and its page open in Debian's Chromium
  (Playwright, --headless), one WGAN-GP panel training; the page's own counts give the frames it received and
  the iteration of the last, read at both ends of the window (this process sleeps in between).
Prints iterations per second of each, the slowdown, and the frames per second; ``--json`` appends the figures.
With ``--screenshot PATH``, GAN beside WGAN-GP on 8gaussians after ``--screenshot-iterations``.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import torch
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import sync_playwright

from throughput import machine_name
from wgan.errors import WganError
from wgan.play.panel import Panel
from wgan.play.settings import panel_config

from command import Parser, append_line, count, positive_float, positive_int, run, writable

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@contextmanager
def play_server(threads: int):
    """`wgan play` on a free port, as a user starts it; yields (address, process)."""
    server = subprocess.Popen([sys.executable, "-m", "wgan", "play", "--port", "0", "--threads", str(threads)],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        found = re.search(r"http://[^ ]+/", server.stdout.readline())
        if found is None:
            raise RuntimeError("wgan play did not print its address")
        yield found.group(0), server
    finally:
        server.terminate()
        server.wait(30)


def without_page(seconds: float) -> float:
    """Iterations per second of a panel stepped with no frames and no page."""
    panel = Panel(panel_config({}))
    for _ in range(3):  # warm-up
        panel.step()
    start, begun = panel.iteration, time.perf_counter()
    while time.perf_counter() - begun < seconds:
        panel.step()
    return (panel.iteration - start) / (time.perf_counter() - begun)


def page_counts(page) -> tuple[float, int, int]:
    """(the page's clock in seconds, frames it has received, iteration of the last) for panel p1."""
    return page.evaluate("[performance.now() / 1000, panels.get('p1').framesReceived, "
                         "panels.get('p1').frame.iteration]")


def with_page(page, seconds: float) -> tuple[float, float]:
    """(iterations per second, frames per second) of one WGAN-GP panel on the open page, over ``seconds``,
    as the page counts them."""
    page.click("#start-all")
    page.wait_for_function("document.querySelector('#panel-p1 .toggle').textContent === 'Pause'")
    time.sleep(2.0)  # past the start
    clock, frames, iteration = page_counts(page)
    time.sleep(seconds)
    clock_after, frames_after, iteration_after = page_counts(page)
    page.click("#pause-all")
    page.wait_for_function("document.querySelector('#panel-p1 .toggle').textContent === 'Start'")
    elapsed = clock_after - clock
    return (iteration_after - iteration) / elapsed, (frames_after - frames) / elapsed


def screenshot(browser, address: str, path: Path, iterations: int) -> None:
    page = browser.new_page(viewport={"width": 800, "height": 1000})
    page.goto(address + "?algorithms=gan,wgan-gp")
    page.wait_for_selector("#panel-p2 .value-w1:has-text('exact W1')")
    page.click("#start-all")
    page.wait_for_function(f"Number(document.querySelector('#panel-p2 .value-iteration').textContent) >= "
                           f"{iterations}", timeout=0)  # taken while training, rates and all
    page.screenshot(path=str(path), full_page=True)
    page.close()
    print(f"wrote {path}")


def main() -> None:
    parser = Parser(__doc__)
    parser.add_argument("--seconds", type=positive_float, default=30.0, help="length of each window; default: 30")
    parser.add_argument("--rounds", type=count, default=2, help="pairs of windows (0: none); default: 2")
    parser.add_argument("--threads", type=positive_int, default=torch.get_num_threads(),
                        help="torch threads, here and in the server; default: torch's own choice")
    parser.add_argument("--chromium", type=Path, default=Path("/usr/bin/chromium"),
                        help="the browser; default: /usr/bin/chromium")
    parser.add_argument("--json", type=Path, metavar="FILE", help="append the figures to this JSON-lines file")
    parser.add_argument("--screenshot", type=Path, metavar="PATH", help="also write GAN beside WGAN-GP to this PNG")
    parser.add_argument("--screenshot-iterations", type=positive_int, default=500,
                        help="iterations of both panels in the screenshot; default: 500")
    args = parser.parse_args()
    writable(args.json)
    writable(args.screenshot)
    torch.set_num_threads(args.threads)
    rows = []
    # the browser before the server: a --chromium that does not start is said at once, not after the server's start
    with sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(executable_path=str(args.chromium), args=CHROMIUM_FLAGS)
        except PlaywrightError as error:
            raise WganError(f"--chromium '{args.chromium}' did not start ({str(error).splitlines()[0]}): give "
                            "Chromium's path, e.g. /usr/bin/chromium") from None
        with play_server(args.threads) as (address, _):
            page = browser.new_page()
            page.goto(address + "?algorithms=wgan-gp")
            page.wait_for_selector("#panel-p1 .value-w1:has-text('exact W1')")
            for round_number in range(args.rounds):
                alone = without_page(args.seconds)
                rate, fps = with_page(page, args.seconds)
                rows.append({"alone": alone, "page": rate, "fps": fps})
                print(f"round {round_number + 1}: without the page {alone:.2f} it/s, with it {rate:.2f} it/s "
                      f"({1 - rate / alone:+.1%} slower), {fps:.1f} frames/s", flush=True)
            page.close()
            if args.screenshot:
                screenshot(browser, address, args.screenshot, args.screenshot_iterations)
        browser.close()
    if rows:
        report(rows, args)


def report(rows: list[dict], args: argparse.Namespace) -> None:
    alone, rate = sum(row["alone"] for row in rows), sum(row["page"] for row in rows)
    summary = {"benchmark": "play_page", "machine": machine_name(torch.device("cpu")), "threads": args.threads,
               "seconds": args.seconds, "rounds": rows, "slowdown": 1 - rate / alone,
               "fps_min": min(row["fps"] for row in rows)}
    print(f"{summary['machine']}, {args.threads} threads: the page slows training by {summary['slowdown']:.1%}; "
          f"at least {summary['fps_min']:.1f} frames/s")
    if args.json:
        append_line(args.json, summary)

if __name__ == "__main__":
    run(main)
