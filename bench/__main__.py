"""Run every benchmark, print each table, and merge the figures into bench/results.json.

A benchmark is a module ``bench/bench_*.py`` with ``run() -> dict[str, float]``; figure names
carry their unit (``driver.overhead_ms_median``). ``python -m bench NAME...`` runs a subset.
"""

from __future__ import annotations

import importlib
import json
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
RESULTS = HERE / "results.json"


def discover() -> list[str]:
    return sorted(p.stem for p in HERE.glob("bench_*.py"))


def main(argv: list[str]) -> int:
    names = argv or discover()
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        print(f"\n== {name} ==", flush=True)
        figures = module.run()
        results.update(figures)
        RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print("\n== figures ==")
    for key, value in sorted(results.items()):
        print(f"  {key:<45} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
