"""``python -m convbook.lab.experiments NAME [NAME ...]``: run reference experiments and store their results."""

from __future__ import annotations

import argparse
import sys
import time

from convbook.lab.experiments import available, describe, reference_path, run_experiment, save


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(
        prog="python -m convbook.lab.experiments",
        description="Run the book's reference experiments; each result is written, with its provenance, to "
        "convbook/reference/results/NAME.json, where the chapters read it.",
    )
    parser.add_argument("names", nargs="*", help="experiments to run, or 'all'")
    parser.add_argument("--list", action="store_true", help="list the experiments and their reference files")
    parser.add_argument("--quick", action="store_true", help="a seconds-long smoke run; never stored as reference")
    parser.add_argument("--out", help="write here instead of the reference location (one experiment only)")
    args = parser.parse_args(argv)
    names = available() if args.names == ["all"] else args.names
    if args.list or not names:
        for name in available():
            stored = "stored" if reference_path(name).is_file() else "not yet run"
            print(f"{name:<24} {describe(name)}  [{stored}]")
        return 0 if args.list else 2
    unknown = [n for n in names if n not in available()]
    if unknown:
        parser.error(f"unknown experiment(s) {unknown}; choose from {', '.join(available())} or 'all'")
    if args.out and len(names) != 1:
        parser.error("--out needs exactly one experiment")
    if args.quick and not args.out:
        parser.error("--quick results are not references: give --out PATH")
    for name in names:
        start = time.perf_counter()
        command = ["python -m convbook.lab.experiments", name] + (["--quick"] if args.quick else [])
        data = run_experiment(name, quick=args.quick, argv=command)
        path = save(data, args.out)
        print(f"{name}: {time.perf_counter() - start:.1f} s, written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
