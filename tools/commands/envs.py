"""``python -m tools envs``: the asv environments asv.conf.json declares, one name a line.

asv names an environment after its type, Python and requirements (``virtualenv-py3.11-numpy2.3.5-…``),
so the name changes with every dependency added to the matrix; a script that wants one configuration
(``asv run -E NAME``, ``run_benchmarks.sh --env NAME``) asks for it here instead of spelling it out.
``--first`` prints the first, the matrix's reference configuration (its first value of every
requirement); ``--python X.Y`` keeps those of one Python.
"""

from __future__ import annotations

from tools.config import add_common_arguments, settings_from_args
from tools.errors import ToolError

NAME = "envs"
HELP = "print the asv environment names asv.conf.json declares (the first is the matrix's reference)"


def add_arguments(parser) -> None:
    add_common_arguments(parser)
    parser.add_argument("--python", default=None, metavar="X.Y", help="only the environments of this Python")
    parser.add_argument("--first", action="store_true", help="only the first (the reference configuration)")


def environment_names(config_path, python: str | None = None) -> list[str]:
    """The environment names asv would create for ``config_path``, in asv's order."""
    from asv import environment, util
    from asv.config import Config

    try:
        conf = Config.load(str(config_path))
        envs = list(environment.get_environments(conf, None))
    except (util.UserError, OSError, ValueError) as exc:
        raise ToolError(f"{config_path}: cannot read the asv environments ({exc})") from None
    return [e.name for e in envs if python is None or str(e.python) == python]


def run(args) -> int:
    settings = settings_from_args(args)
    if settings.config_path is None:
        raise ToolError("no asv.conf.json here (give --config)")
    names = environment_names(settings.config_path, args.python)
    if not names:
        raise ToolError(
            f"{settings.config_path}: no asv environment" + (f" of Python {args.python}" if args.python else "")
        )
    print("\n".join(names[:1] if args.first else names))
    return 0
