"""Timing helpers for the per-frame CPU stages: quiet, and with another process spinning on one of our cores.

``busy_core()`` starts a busy loop pinned to the first CPU this process may run on (as when a creator's other
program holds a core) and stops it on exit. ``per_call_ms`` is the median of repeated calls after a warm-up.
"""
from __future__ import annotations

import contextlib
import os
import statistics
import subprocess
import sys
import time


@contextlib.contextmanager
def busy_core():
    """A pinned busy loop beside the benchmark, for the duration of the block."""
    core = min(os.sched_getaffinity(0))
    spin = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        os.sched_setaffinity(spin.pid, {core})
        time.sleep(0.2)
        yield core
    finally:
        spin.kill()
        spin.wait()


def per_call_ms(fn, repeats: int = 20) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def side_by_side(paths: dict, repeats: int = 20) -> dict[str, dict[str, float]]:
    """{name: {"quiet": ms, "busy core": ms}} for each named zero-argument callable."""
    quiet = {name: per_call_ms(fn, repeats) for name, fn in paths.items()}
    with busy_core():
        busy = {name: per_call_ms(fn, repeats) for name, fn in paths.items()}
    return {name: {"quiet": round(quiet[name], 2), "busy core": round(busy[name], 2)} for name in paths}


def print_table(title: str, rows: dict[str, dict[str, float]]) -> None:
    print(f"{title} (ms per frame, median; {len(os.sched_getaffinity(0))} CPUs, one held by a busy loop in 'busy')")
    for name, t in rows.items():
        print(f"  {name:<34} quiet {t['quiet']:8.2f}   busy core {t['busy core']:8.2f}")
