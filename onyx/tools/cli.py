"""The ``onyx`` command line: one module per subcommand under ``onyx/tools``.

Exit codes: 0 ok, 1 a check failed, 2 usage or model error (one line, no traceback unless
``--debug``).
"""

from __future__ import annotations

import argparse
import os
import sys

from onyx.ir.errors import OnyxError

COMMANDS = ("demo", "info", "dump", "run", "check", "bench", "convert", "optimize", "conformance",
            "kernels")


def build_parser() -> argparse.ArgumentParser:
    import importlib
    parser = argparse.ArgumentParser(
        prog="onyx", description="Inspect, run, convert, benchmark and check ONNX models with "
        "onyx; 'onyx demo' trains, compiles and exports a small CNN.",
        epilog="run 'onyx COMMAND --help' for the options and an example of each command")
    parser.add_argument("--debug", action="store_true", help="show Python tracebacks on errors")
    parser.add_argument("--version", action="version", version=f"onyx {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"onyx.tools.{name}").add_parser(sub)
    for p in sub.choices.values():  # module docstrings are the descriptions: drop RST quoting
        p.description = (p.description or "").replace("``", "")
    return parser


def examples(command: str) -> list[str]:
    """The ``onyx ...`` example lines of ``command``'s ``--help`` (tests run each of them)."""
    action = next(a for a in build_parser()._actions if a.dest == "command")
    epilog = action.choices[command].epilog or ""
    return [ln.strip() for ln in epilog.splitlines() if ln.strip().startswith("onyx ")]


def _version() -> str:
    from onyx import __version__
    return __version__


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except BrokenPipeError:
        # The reader stopped early (`onyx dump big.onnx | head`): not an error; keep Python
        # from complaining again when it flushes stdout at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (OnyxError, OSError, ValueError, ImportError) as exc:
        if args.debug:
            raise
        print(f"onyx {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"onyx {args.command}: interrupted", file=sys.stderr)
        return 130


def _one_line(exc: BaseException) -> str:
    """The error as one line; a missing optional package says which one."""
    if (isinstance(exc, ImportError) and exc.name and not exc.name.startswith("onyx")
            and "pip install" not in str(exc)):
        return (f"this command needs the Python module {exc.name!r}, which is not installed "
                f"(pip install 'onyx[demo]' installs every optional package)")
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


if __name__ == "__main__":
    sys.exit(main())
