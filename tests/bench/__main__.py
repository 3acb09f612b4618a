"""Run the benchmarks: `python -m tests.bench` runs every tests/bench/bench_*.py; `python -m
tests.bench matching` runs bench_matching.py only. Each module has a `main(argv)` that prints
its figures (medians, p95, and the machine they were measured on)."""

import importlib
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import django

REFERENCE_LOOP = 2_000_000


def machine() -> str:
    cpus = os.cpu_count()
    return (
        f"{platform.machine()}, {cpus} CPUs, Python {platform.python_version()}; "
        f"CPU reference {cpu_reference_ms():.0f} ms"
    )


def cpu_reference_ms() -> float:
    """The median time of a fixed pure-Python loop: the same machine kind has run from one day
    to the next at speeds nearly twice apart, so each run's figures carry this to compare by."""
    runs = []
    for _run in range(5):
        started = time.perf_counter()
        total = 0
        for number in range(REFERENCE_LOOP):
            total += number
        runs.append((time.perf_counter() - started) * 1000)
    return statistics.median(runs)


def main(argv: list[str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    django.setup()
    here = Path(__file__).parent
    available = sorted(p.stem.removeprefix("bench_") for p in here.glob("bench_*.py"))
    chosen = [name for name in argv if not name.startswith("-")] or available
    unknown = set(chosen) - set(available)
    if unknown:
        sys.exit(f"unknown benchmark(s): {', '.join(sorted(unknown))}; have {available}")
    print(f"machine: {machine()}")
    for name in chosen:
        print(f"\n## {name}")
        importlib.import_module(f"tests.bench.bench_{name}").main(argv)


if __name__ == "__main__":
    main(sys.argv[1:])
