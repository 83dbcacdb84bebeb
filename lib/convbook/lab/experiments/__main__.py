"""``python -m convbook.lab.experiments NAME [NAME ...] | all | --list``: run reference experiments, store results.

An experiment with options of its own (``bench``: ``--threads``) takes them after its name when it is the only
one named: ``python -m convbook.lab.experiments bench --threads 1``.
"""

from __future__ import annotations

import argparse
import sys
import time

from convbook.lab.experiments import available, describe, module
from convbook.lab.results import RESULTS_DIR, command_line, run_experiment, save


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m convbook.lab.experiments",
        description="Run the book's reference experiments; each result is written, with its provenance, to "
        "convbook/lab/reference/results/NAME.json (or NAME.VARIANT.json), where the chapters read it.",
    )
    parser.add_argument("names", nargs="*", help="experiments to run, or 'all'")
    parser.add_argument("--list", action="store_true", help="list the experiments and their reference files")
    parser.add_argument("--quick", action="store_true", help="a seconds-long smoke run; never stored as reference")
    parser.add_argument("--out", help="write here instead of the reference location (one experiment only)")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = _parser()
    args, rest = parser.parse_known_args(argv)
    names = available() if args.names == ["all"] else args.names
    if args.list or not names:
        for name in available():
            stored = sorted(p.name for p in RESULTS_DIR.glob(f"{name}.*json") if p.name.split(".")[0] == name)
            print(f"{name:<28} {describe(name)}  [{', '.join(stored) or 'not yet run'}]")
        return 0 if args.list else 2
    unknown = [n for n in names if n not in available()]
    if unknown:
        parser.error(f"unknown experiment(s) {unknown}; choose from {', '.join(available())} or 'all'")
    own = [] if len(names) != 1 else [n for n in names if hasattr(module(n), "add_arguments")]
    options = {}
    if own:  # the options of the one experiment named
        module(own[0]).add_arguments(parser)
        args = parser.parse_args(argv)
        options = {k: v for k, v in vars(args).items() if k not in ("names", "list", "quick", "out")}
    elif rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if args.out and len(names) != 1:
        parser.error("--out needs exactly one experiment")
    if args.quick and not args.out:
        parser.error("--quick results are not references: give --out PATH")
    for name in names:
        start = time.perf_counter()
        command = command_line(name, args.quick, **options) + (f" --out {args.out}" if args.out else "")
        result = run_experiment(name, quick=args.quick, command=command, **options)
        path = save(result, args.out)
        if hasattr(module(name), "report"):
            print(module(name).report(result))
        print(f"{name}: {time.perf_counter() - start:.1f} s, written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
