"""Soak test of the demo server: N clients for M minutes against a real `python app.py`, then idle.

    nice -n 10 python bench/bench_soak.py --clients 16 --minutes 5 [--idle 60] [--json out.json]

The script starts `python app.py` itself on a free port of 127.0.0.1 (nothing else is reachable), with its
own temporary folder, and stops it at the end.  Clients are `gradio_client` threads; each loops over the
clips (the demo's examples, plus generated ones: the examples placed at different spots and scales of a
640x480 frame, analysed with face alignment on, so a face box from another request would change the answer,
and one 600-frame 640x480 clip, the page's limit).  Every request downloads its files (a truncated download
is an error), and every answer is compared with the sequential answer for the same clip (class
probabilities within 1e-6, the same onset / apex / offset): a mismatch is a wrong answer.

Prints requests, errors, wrong answers, p50 / p95 latency per endpoint, and the server's resident memory
(after a sequential warm-up, peak, at the end of the load, after the idle time), the size of its temporary
folder and its open files over time.  Bounded: at most 32 clients and 30 minutes, every request times out.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from learnet.video import read_clip, write_video  # noqa: E402

MAX_CLIENTS = 32
MAX_MINUTES = 30
REQUEST_TIMEOUT_S = 300
SAMPLE_EVERY_S = 5


# ---- the server ---------------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def open_files(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def folder_mb(folder: Path) -> float:
    total = 0
    for root, _, names in os.walk(folder):
        for name in names:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except FileNotFoundError:
                pass
    return total / 2**20


def start_server(tmp: Path, port: int) -> subprocess.Popen:
    env = dict(os.environ, GRADIO_SERVER_NAME="127.0.0.1", GRADIO_SERVER_PORT=str(port),
               GRADIO_TEMP_DIR=str(tmp / "gradio"), TMPDIR=str(tmp), GRADIO_ANALYTICS_ENABLED="False",
               PYTHONUNBUFFERED="1")
    log = open(tmp / "server.log", "w")
    return subprocess.Popen([sys.executable, "app.py"], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)


def wait_ready(url: str, proc: subprocess.Popen, timeout: float = 400) -> None:
    import httpx

    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"app.py exited with code {proc.returncode} before serving")
        try:
            if httpx.get(url + "/config", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise RuntimeError(f"app.py did not answer on {url} within {timeout:.0f} s")


# ---- clips ----------------------------------------------------------------------------------------------------

def make_clips(folder: Path) -> list[tuple[Path, bool]]:
    """(clip, align) pairs: the examples (alignment off, as the page runs them) and generated clips."""
    examples = sorted((REPO / "demo" / "examples").glob("*.mp4"))
    clips = [(p, False) for p in examples]
    folder.mkdir(parents=True, exist_ok=True)
    spots = [((40, 30), 200), ((380, 200), 240), ((200, 120), 160)]  # (x, y) and side of the face in 640x480
    for k, ((x, y), side) in enumerate(spots):
        frames = read_clip(examples[k % len(examples)]).frames
        canvas = np.full((len(frames), 480, 640, 3), 90 + 30 * k, np.uint8)
        for t, frame in enumerate(frames):
            canvas[t, y:y + side, x:x + side] = cv2.resize(frame, (side, side), interpolation=cv2.INTER_CUBIC)
        clips.append((write_video(folder / f"placed_{k}.mp4", canvas, 30), True))
    base = read_clip(examples[-1]).frames
    loop = np.concatenate([base, base[::-1]])
    long = np.resize(loop, (600, *base.shape[1:]))  # forward and back, 600 frames
    canvas = np.full((600, 480, 640, 3), 100, np.uint8)
    for t, frame in enumerate(long):
        canvas[t, 120:376, 192:448] = cv2.resize(frame, (256, 256), interpolation=cv2.INTER_CUBIC)
    clips.append((write_video(folder / "long_600.mp4", canvas, 30), True))
    return clips


# ---- clients --------------------------------------------------------------------------------------------------

def answer(result) -> tuple:
    """The comparable part of a /predict answer: probabilities and the window."""
    label, *_, onset, apex, offset, _summary = result
    probs = {c["label"]: c["confidence"] for c in label["confidences"]} if isinstance(label, dict) and \
        label.get("confidences") else {"abstention": label.get("label") if isinstance(label, dict) else label}
    return probs, (int(onset), int(apex), int(offset))


def same(a: tuple, b: tuple) -> bool:
    (pa, wa), (pb, wb) = a, b
    return wa == wb and set(pa) == set(pb) and all(
        (pa[k] == pb[k]) if isinstance(pa[k], str) else abs(pa[k] - pb[k]) <= 1e-6 for k in pa)


def call(client, endpoint: str, clip: Path, align: bool):
    from gradio_client import handle_file

    job = client.submit(handle_file(str(clip)), align=align, api_name=endpoint)
    result = job.result(timeout=REQUEST_TIMEOUT_S)
    # Every returned file must be complete on disk (gradio_client downloaded it).
    for item in result if isinstance(result, (list, tuple)) else [result]:
        paths = [item] if isinstance(item, str) else [d.get("image") for d in item if isinstance(d, dict)] \
            if isinstance(item, list) else []
        for p in paths:
            if isinstance(p, str) and p.lower().endswith((".png", ".json", ".pdf")):
                data = Path(p).read_bytes()
                if p.lower().endswith(".png") and not data.endswith(b"IEND\xaeB`\x82"):
                    raise OSError(f"truncated download {Path(p).name}")
    return result


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, int] = defaultdict(int)
        self.wrong: list[str] = []
        self.requests = 0


def client_loop(i: int, url: str, clips, reference, deadline: float, stats: Stats, downloads: Path) -> None:
    from gradio_client import Client

    client = Client(url, verbose=False, download_files=str(downloads / f"client{i}"))
    k = i
    while time.time() < deadline:
        clip, align = clips[k % len(clips)]
        k += 1
        for endpoint in ("/predict", "/explain") if k % 2 == 0 else ("/predict",):
            if time.time() >= deadline:
                break
            t0 = time.perf_counter()
            try:
                result = call(client, endpoint, clip, align)
            except Exception as exc:  # counted, never fatal to the soak
                with stats.lock:
                    stats.requests += 1
                    stats.errors[f"{endpoint} {type(exc).__name__}: {str(exc)[:80]}"] += 1
                continue
            dt = time.perf_counter() - t0
            with stats.lock:
                stats.requests += 1
                stats.latency[endpoint].append(dt)
                if endpoint == "/predict" and not same(answer(result), reference[clip]):
                    stats.wrong.append(f"{clip.name}: {answer(result)} != {reference[clip]}")
        shutil.rmtree(downloads / f"client{i}", ignore_errors=True)  # the client's copies, checked already


# ---- main -----------------------------------------------------------------------------------------------------

@dataclass
class SoakRun:
    """What one soak measured: the load's statistics and the server's memory, temp folder and open files."""

    clients: int
    minutes: float
    idle_s: float
    stats: "Stats"
    samples: list  # (t, phase, rss MB, temp MB, open files)
    load_s: float = 0.0
    baseline: float = 0.0
    end_rss: float = 0.0
    idle_rss: float = 0.0
    idle_tmp: float = 0.0
    idle_files: int = 0


def _monitor(proc: subprocess.Popen, tmp: Path, samples: list, phase: list, stop: threading.Event) -> threading.Thread:
    """A thread sampling the server's RSS, temp folder size and open files every SAMPLE_EVERY_S."""
    t_start = time.time()

    def sample() -> None:
        while not stop.is_set() and proc.poll() is None:
            try:
                samples.append((time.time() - t_start, phase[0], rss_mb(proc.pid), folder_mb(tmp), open_files(proc.pid)))
            except (FileNotFoundError, ProcessLookupError):
                break
            stop.wait(SAMPLE_EVERY_S)

    return threading.Thread(target=sample, daemon=True)


def _stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _soak(run: SoakRun, tmp: Path) -> None:
    """Start the server, warm it up with sequential reference answers, load it, let it idle; fills `run`."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = start_server(tmp, port)
    phase = ["start"]
    stop = threading.Event()
    monitor = _monitor(proc, tmp, run.samples, phase, stop)
    try:
        wait_ready(url, proc)
        monitor.start()
        clips = make_clips(tmp / "clips")
        from gradio_client import Client

        phase[0] = "warm-up"
        ref_client = Client(url, verbose=False, download_files=str(tmp / "downloads" / "reference"))
        reference = {}
        for clip, align in clips:  # sequential answers, and the warm-up (each clip through both endpoints)
            reference[clip] = answer(call(ref_client, "/predict", clip, align))
            call(ref_client, "/explain", clip, align)
        time.sleep(2)
        run.baseline = rss_mb(proc.pid)
        print(f"server pid {proc.pid} on {url}; {len(clips)} clips; warmed-up RSS {run.baseline:.0f} MB", flush=True)

        phase[0] = "load"
        deadline = time.time() + 60 * run.minutes
        threads = [threading.Thread(target=client_loop, args=(i, url, clips, reference, deadline, run.stats,
                                                              tmp / "downloads"), daemon=True)
                   for i in range(run.clients)]
        t_load = time.time()
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60 * run.minutes + REQUEST_TIMEOUT_S + 30)
        run.load_s = time.time() - t_load
        run.end_rss = rss_mb(proc.pid)
        phase[0] = "idle"
        time.sleep(run.idle_s)
        run.idle_rss, run.idle_tmp, run.idle_files = rss_mb(proc.pid), folder_mb(tmp), open_files(proc.pid)
    finally:
        stop.set()
        _stop_server(proc)


def _report(run: SoakRun) -> None:
    """Print the table, the RSS curve and the first errors."""
    stats, samples = run.stats, run.samples
    lat = {e: np.percentile(v, [50, 95]) for e, v in stats.latency.items()}
    rows = [
        ("clients x minutes", f"{run.clients} x {run.minutes:g} (load ran {run.load_s:.0f} s)"),
        ("requests", f"{stats.requests} ({', '.join(f'{e} {len(v)}' for e, v in sorted(stats.latency.items()))} ok)"),
        ("errors", str(sum(stats.errors.values()))),
        ("wrong answers", str(len(stats.wrong))),
    ]
    rows += [(f"{e} latency p50 / p95", f"{p50:.2f} s / {p95:.2f} s") for e, (p50, p95) in sorted(lat.items())]
    rows += [
        ("RSS warmed up / peak / end of load / after idle",
         f"{run.baseline:.0f} / {max(s[2] for s in samples):.0f} / {run.end_rss:.0f} / {run.idle_rss:.0f} MB "
         f"(idle {run.idle_s:g} s)"),
        ("temp folder peak / after idle", f"{max(s[3] for s in samples):.0f} / {run.idle_tmp:.0f} MB"),
        ("open files peak / after idle", f"{max(s[4] for s in samples)} / {run.idle_files}"),
    ]
    print("\n| measure | value |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")
    print("\nRSS over time (MB, every ~30 s): " + ", ".join(
        f"{t:.0f}s {p} {r:.0f}" for t, p, r, _, _ in samples[:: max(1, 30 // SAMPLE_EVERY_S)]))
    for message, count in sorted(stats.errors.items(), key=lambda kv: -kv[1])[:10]:
        print(f"error x{count}: {message}")
    for w in stats.wrong[:10]:
        print(f"wrong: {w}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16, help=f"concurrent clients (at most {MAX_CLIENTS})")
    parser.add_argument("--minutes", type=float, default=5.0, help=f"load duration (at most {MAX_MINUTES})")
    parser.add_argument("--idle", type=float, default=60.0, help="seconds of idle after the load before the last "
                                                                 "memory reading")
    parser.add_argument("--json", default=None, help="also write the figures as JSON")
    args = parser.parse_args()
    run = SoakRun(clients=max(1, min(args.clients, MAX_CLIENTS)), minutes=max(0.1, min(args.minutes, MAX_MINUTES)),
                  idle_s=args.idle, stats=Stats(), samples=[])
    tmp = Path(tempfile.mkdtemp(prefix="learnet-soak-"))
    _soak(run, tmp)
    _report(run)
    stats = run.stats
    if args.json:
        lat = {e: np.percentile(v, [50, 95]) for e, v in stats.latency.items()}
        Path(args.json).write_text(json.dumps({
            "clients": run.clients, "minutes": run.minutes, "requests": stats.requests, "errors": dict(stats.errors),
            "wrong": stats.wrong, "latency_s": {e: list(map(float, v)) for e, v in lat.items()},
            "rss_mb": {"baseline": run.baseline, "end": run.end_rss, "idle": run.idle_rss},
            "samples": run.samples, "load_samples": sum(s[1] == "load" for s in run.samples),
        }, indent=1))
    if sum(stats.errors.values()) or stats.wrong:
        print(f"server log kept: {tmp / 'server.log'}")
        shutil.rmtree(tmp / "clips", ignore_errors=True)
        return 1
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
