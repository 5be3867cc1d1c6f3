"""Entry point of the `recsys-dr` console script.

Each concern registers its own sub-commands; heavy imports (pulumi, boto3) happen
inside the handlers so `recsys-dr --help` stays instant.
"""

from __future__ import annotations

import argparse
import sys

from recsys_dr import __version__
from recsys_dr.operations import cli as operations_cli
from recsys_dr.review import cli as review_cli
from recsys_dr.sandbox import cli as sandbox_cli


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="recsys-dr",
        description="Plan, review and operate the two-region recommender deployment.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subcommands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    review_cli.register(subcommands)
    operations_cli.register(subcommands)
    sandbox_cli.register(subcommands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
