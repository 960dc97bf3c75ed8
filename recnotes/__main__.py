"""Command line: ``python -m recnotes run [NOTEBOOK ...] [-p NAME VALUE ...]``."""

from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m recnotes", description="recnotes notebooks and experiments")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser(
        "run",
        help="execute notebooks with papermill into an output folder and summarize their metrics",
        description=(
            "Execute notebooks through papermill into OUTPUT (default runs/<timestamp>/), never in place. "
            "Values of -p are Python literals (3, 0.1, [1, 3], True) or plain text for text parameters."
        ),
    )
    run.add_argument("notebooks", nargs="*", help="notebook paths or names (e.g. 00_quickstart or 00); default: all")
    run.add_argument(
        "-p", "--parameter", dest="parameters", nargs=2, action="append", metavar=("NAME", "VALUE"),
        help="set a parameter of the notebooks' 'parameters' cell (repeatable)",
    )
    run.add_argument("-o", "--output", help="output folder (default runs/<timestamp>/)")
    run.add_argument("--notebook-dir", default="notebooks", help="where notebooks are looked up (default notebooks/)")
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "run":
        from recnotes.runner import main_run

        return main_run(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
