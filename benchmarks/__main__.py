"""``python -m benchmarks [--quick] [--only NAME]``: run the benchmarks and print their tables."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from pathlib import Path

from benchmarks._common import RESULTS_DIR, markdown_table, write_result


def discover() -> dict[str, str]:
    here = Path(__file__).parent
    return {
        info.name.removeprefix("bench_"): f"benchmarks.{info.name}"
        for info in pkgutil.iter_modules([str(here)])
        if info.name.startswith("bench_")
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, few runs: a smoke test")
    parser.add_argument("--only", action="append", default=[], help="benchmark name (repeatable)")
    parser.add_argument(
        "--results-dir", type=Path, default=RESULTS_DIR, help="where the JSON results go"
    )
    args = parser.parse_args(argv)
    available = discover()
    unknown = [n for n in args.only if n not in available]
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown!r}; available: {sorted(available)}")
    for name in args.only or sorted(available):
        module = importlib.import_module(available[name])
        sections = module.run(quick=args.quick)
        # A quick run may measure other input than the full one: its title says which.
        title = getattr(module, "QUICK_TITLE", module.TITLE) if args.quick else module.TITLE
        print(f"\n## {title}\n")
        for section, rows in sections.items():
            print(f"### {section}\n\n{markdown_table(rows)}\n")
        path = write_result(name, title, sections, args.quick, args.results_dir)
        print(f"(written to {path})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
