"""The ``onyx`` command line: one module per subcommand under ``onyx/tools``.

Exit codes: 0 ok, 1 a check failed, 2 usage or model error (one line, no traceback unless
``--debug``).
"""

from __future__ import annotations

import argparse
import sys

from onyx.ir.errors import OnyxError

COMMANDS = ("dump", "run", "conformance", "optimize")


def build_parser() -> argparse.ArgumentParser:
    import importlib
    parser = argparse.ArgumentParser(
        prog="onyx", description="Inspect, run and check ONNX models with onyx.",
        epilog="run 'onyx COMMAND --help' for the options and an example of each command")
    parser.add_argument("--debug", action="store_true", help="show Python tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"onyx.tools.{name}").add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (OnyxError, OSError, ValueError) as exc:
        if args.debug:
            raise
        print(f"onyx {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
