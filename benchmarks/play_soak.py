"""Soak of `wgan play`: an hour of pages opening, panels starting, resetting, changing and closing, watching the
server's resident memory and open files.

    python benchmarks/play_soak.py                   # 60 minutes
    python benchmarks/play_soak.py --minutes 5       # a shorter look

Starts `wgan play` as a user does and drives it over its web socket as a page would (no browser: the bound is
the server's). One cycle: a page opens, adds a GAN and a WGAN-GP panel (toy defaults), starts both and reads
frames for a while, resets both and trains on, gives one panel another algorithm and a bad value, sends a
malformed message, removes a panel, and closes. After every cycle it records the server's resident set size
(VmRSS) and open file descriptors. Prints the figures after warm-up (the first 10% of the time): first, last
and largest memory, its least-squares slope per 10 minutes, and the open files; ``--json`` appends them.
Nothing is asserted: the bound it is judged against is in docs/RELIABILITY.md.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch
from websockets.sync.client import connect

from wgan.errors import WganError

from play_page import play_server
from soak import open_files, resident_megabytes
from throughput import machine_name

from command import Parser, append_line, positive_float, positive_int, run, writable

MIN_CYCLES = 4  # after the warm-up's tenth, three points for a slope


def read_for(socket, seconds: float) -> int:
    """Read the server's messages for ``seconds``; the number of frames among them."""
    frames, deadline = 0, time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            message = json.loads(socket.recv(timeout=left))
        except TimeoutError:
            break
        frames += message["type"] == "frame"
    return frames


def cycle(address: str, seconds: float, round_number: int) -> int:
    """One page's life (see the module docstring); the frames it received."""
    algorithms = ("gan", "wgan", "wgan-lp", "gan-ns")
    with connect(address.replace("http", "ws") + "ws", max_size=None) as socket:
        def send(**message) -> None:
            socket.send(json.dumps(message))

        send(action="add", panel="a", settings={"algorithm": "gan"})
        send(action="add", panel="b", settings={"algorithm": "wgan-gp"})
        send(action="start", panel="*")
        frames = read_for(socket, seconds)
        send(action="reset", panel="*")
        send(action="start", panel="*")
        frames += read_for(socket, seconds / 2)
        send(action="configure", panel="a", settings={"algorithm": algorithms[round_number % len(algorithms)]})
        send(action="configure", panel="b", settings={"lr": -1})
        socket.send("{not json")
        send(action="start", panel="a")
        frames += read_for(socket, seconds / 2)
        send(action="remove", panel="b")
        frames += read_for(socket, 0.5)
    return frames


def main() -> None:
    parser = Parser(__doc__)
    parser.add_argument("--minutes", type=positive_float, default=60.0, help="how long; default: 60")
    parser.add_argument("--seconds", type=positive_float, default=6.0,
                        help="training per cycle before the reset; default: 6")
    parser.add_argument("--threads", type=positive_int, default=1, help="the server's torch threads; default: 1")
    parser.add_argument("--json", type=Path, metavar="FILE", help="append the figures to this JSON-lines file")
    args = parser.parse_args()
    cycle_seconds = 2 * args.seconds + 0.5  # what cycle() reads for, at the least
    if 60 * args.minutes < MIN_CYCLES * cycle_seconds:
        raise WganError(f"--minutes {args.minutes:g} holds under {MIN_CYCLES} cycles of {cycle_seconds:g} s (twice "
                        f"--seconds and 0.5); the memory's slope needs {MIN_CYCLES}: raise --minutes or lower "
                        "--seconds")
    writable(args.json)
    samples = []  # (minutes, MB, open files)
    begun, cycles, frames = time.monotonic(), 0, 0
    with play_server(args.threads) as (address, server):
        while (elapsed := time.monotonic() - begun) < 60 * args.minutes:
            frames += cycle(address, args.seconds, cycles)
            cycles += 1
            samples.append((elapsed / 60, resident_megabytes(server.pid), open_files(server.pid)))
            if cycles % 20 == 0:
                print(f"{elapsed / 60:5.1f} min, {cycles} cycles: {samples[-1][1]:.1f} MB, {samples[-1][2]} open "
                      "files", flush=True)
    minutes, memory, files = (np.array(column) for column in zip(*samples))
    warm = minutes >= 0.1 * args.minutes
    slope = np.polyfit(minutes[warm], memory[warm], 1)[0] * 10 if warm.sum() >= 3 else None  # slow cycles: too few
    summary = {"benchmark": "play_soak", "machine": machine_name(torch.device("cpu")),
               "minutes": round(float(minutes[-1]), 1), "cycles": cycles, "frames": frames,
               "mb_after_warmup": round(float(memory[warm][0]), 1), "mb_last": round(float(memory[-1]), 1),
               "mb_max": round(float(memory[warm].max()), 1),
               "mb_per_10_minutes": None if slope is None else round(float(slope), 2),
               "open_files_first": int(files[warm][0]), "open_files_last": int(files[-1]),
               "open_files_max": int(files.max())}
    print(json.dumps(summary))
    if args.json:
        append_line(args.json, summary)


if __name__ == "__main__":
    run(main)
