"""Run the benchmarks: `python -m tests.bench` runs every tests/bench/bench_*.py; `python -m
tests.bench matching` runs bench_matching.py only. Each module has a `main(argv)` that prints
its figures (medians, p95, and the machine they were measured on)."""

import importlib
import os
import platform
import sys
from pathlib import Path

import django


def machine() -> str:
    cpus = os.cpu_count()
    return f"{platform.machine()}, {cpus} CPUs, Python {platform.python_version()}"


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
