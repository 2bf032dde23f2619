"""What results were measured with: Python, dependency versions, the machine, asv.

asv records the Python and the requirements of an environment in every result file (``python``,
``requirements``; the machine's description in ``params`` too) and the machine in
``<machine>/machine.json``. It does not record its own version: the pipeline stamps it into the
result files it wrote (``asv_version``, ``stamp_asv_version``; asv ignores the key and drops it
when it rewrites a file, the next stamp puts it back). Without a stamp, the results format tells
the asv generation (format 2: asv 0.5 or later; format 1: older).

Reading is by file header only: the tidy table (``tools.loader``) has no room for these facts,
and they are the same for every row of a file.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from tools.loader import machine_dirs, read_machine_json

MACHINE_FACTS = ("os", "arch", "cpu", "num_cpu", "ram")
FORMAT_ASV = {1: "asv before 0.5", 2: "asv 0.5 or later"}


def _machine_dir_of(results_dir: Path, machine: str) -> Path | None:
    root = Path(results_dir)
    if not root.is_dir():
        return None
    for mdir in machine_dirs(root):
        if str(read_machine_json(mdir).get("machine") or mdir.name) == machine:
            return mdir
    return None


def result_files(results_dirs: Sequence[Path], machine: str, env: str, commit: str | None = None) -> list[Path]:
    """Result files of ``machine`` and environment ``env`` (of ``commit`` when given) in the dirs."""
    found = []
    for d in results_dirs:
        mdir = _machine_dir_of(Path(d), machine)
        if mdir is not None:
            found += sorted(mdir.glob(f"{commit[:8] if commit else '*'}-{env}.json"))
    return found


def read_header(path: Path) -> dict:
    """The header of a result file (format 1 or 2): python, requirements, params, format, asv."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {
        "python": str(data.get("python") or ""),
        "requirements": {str(k): str(v) for k, v in (data.get("requirements") or {}).items()},
        "params": dict(data.get("params") or {}),
        "format": data.get("version"),
        "asv_version": data.get("asv_version"),
    }


def ram_text(ram: str) -> str:
    """asv's ``ram`` as people read it: asv 0.6 records bytes, older asv kB (a count below 1e9
    is taken for kB: no machine has under 1 GB or over 1 TB here)."""
    if not str(ram).isdigit():
        return str(ram)
    n = int(ram)
    gib = n / 2**30 if n >= 10**9 else n / 2**20
    return f"{gib:.1f} GiB"


def asv_text(header: dict) -> str:
    """The asv that wrote a file: its stamped version, else the generation its format implies."""
    if header.get("asv_version"):
        return str(header["asv_version"])
    fmt = header.get("format")
    return f"results format {fmt} ({FORMAT_ASV[fmt]})" if fmt in FORMAT_ASV else "unknown"


def environment_facts(results_dirs: Sequence[Path], pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], dict]:
    """{(machine, environment): header of one of its result files} ({} when none is readable)."""
    facts = {}
    for machine, env in pairs:
        header = {}
        for path in reversed(result_files(results_dirs, machine, env)):
            header = read_header(path)
            if header:
                break
        facts[(machine, env)] = header
    return facts


def machine_facts(results_dirs: Sequence[Path], machine: str) -> dict:
    """machine.json of ``machine`` (the first results dir that has it)."""
    for d in results_dirs:
        mdir = _machine_dir_of(Path(d), machine)
        if mdir is not None and (mdir / "machine.json").is_file():
            return read_machine_json(mdir)
    return {}


def side_facts(results_dirs: Sequence[Path], triples: Iterable[tuple[str, str, str]]) -> list[dict]:
    """One record per (machine, commit, environment) of a side: every fact the comparison names."""
    out = []
    for machine, commit, env in sorted(set(triples)):
        files = result_files(results_dirs, machine, env, commit)
        header = read_header(files[-1]) if files else {}
        m = machine_facts(results_dirs, machine)
        record = {"machine": machine, "commit": commit, "environment": env}
        record["python"] = header.get("python", "")
        record["requirements"] = header.get("requirements", {})
        record.update({k: str(m.get(k, header.get("params", {}).get(k, "")) or "") for k in MACHINE_FACTS})
        record["ram"] = ram_text(record["ram"])
        record["asv"] = asv_text(header) if header else "unknown"
        out.append(record)
    return out


def stamp_asv_version(results_dir: Path, machine: str, since: float, version: str | None = None) -> list[Path]:
    """Record the running asv's version in the result files of ``machine`` written at or after
    ``since`` (seconds since the epoch): the files of the run that just ended."""
    from asv import __version__

    from tools.io import atomic_write_text

    version = version or __version__
    stamped = []
    mdir = _machine_dir_of(Path(results_dir), machine)
    for path in sorted(mdir.glob("*.json")) if mdir is not None else []:
        if path.name == "machine.json" or path.stat().st_mtime < since:
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError):
            continue
        if isinstance(data, dict) and "result_columns" in data and data.get("asv_version") != version:
            data["asv_version"] = version
            atomic_write_text(path, json.dumps(data, separators=(",", ":")))
            stamped.append(path)
    return stamped


def register_machine(name: str, path: str | None = None) -> dict:
    """asv's machine file entry for ``name`` with what asv detects here (os, arch, cpu, cores,
    ram): ``asv machine --yes --machine NAME`` records the name alone, and ``machine.json`` then
    says nothing about the machine. Written with asv's own ``MachineCollection``."""
    from asv.machine import Machine, MachineCollection

    info = {**Machine.get_defaults(), "machine": name}
    MachineCollection.save(name, info, _path=path)
    return info


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m tools.provenance machine NAME``: register asv machine NAME with its description;
    ``python -m tools.provenance stamp NAME SINCE``: stamp the asv version into the result files of
    machine NAME written since SINCE (seconds since the epoch; the results dir of ./asv.conf.json)."""
    import argparse

    from tools.config import settings_from_args

    parser = argparse.ArgumentParser(prog="python -m tools.provenance", description=main.__doc__)
    sub = parser.add_subparsers(dest="what", required=True)
    sub.add_parser("machine").add_argument("machine")
    stamp = sub.add_parser("stamp")
    stamp.add_argument("machine")
    stamp.add_argument("since", type=float)
    args = parser.parse_args(argv)
    if args.what == "machine":
        info = register_machine(args.machine)
        print(f"asv machine {args.machine}: {info['os']}, {info['cpu']}, {info['num_cpu']} cores", file=sys.stderr)
        return 0
    settings = settings_from_args(argparse.Namespace())
    stamped = [p for d in settings.results_dirs for p in stamp_asv_version(d, args.machine, args.since)]
    print(f"asv version recorded in {len(stamped)} result file(s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
