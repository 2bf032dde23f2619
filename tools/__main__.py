"""``python -m tools <command>`` (installed: ``intellirouter-bench <command>``, from any folder):
discovers the command modules in ``tools/commands``."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from pathlib import Path

from tools import commands
from tools.errors import ToolError


def _command_modules():
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        if hasattr(module, "NAME") and hasattr(module, "run"):
            yield module


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="intellirouter-bench" if Path(sys.argv[0]).name == "intellirouter-bench" else "python -m tools",
        description="IntelliRouter benchmark tools: export, reports, charts and regression detection over asv results.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for module in _command_modules():
        # argparse %-formats a subcommand's help in the listing but prints its description as it is
        p = sub.add_parser(module.NAME, help=module.HELP, description=module.HELP.replace("%%", "%"))
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except ToolError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
