"""Merging asv results trees (shards of one run, several machines) into one tree.

A results tree is asv's ``results_dir``: ``benchmarks.json`` and per machine folder a
``machine.json`` and one ``<commit8>-<env>.json`` per commit and environment (format 2; format 1
files are converted with asv's own ``Results.update_to_2``). Merging:

* files of the same machine, commit and environment are combined **per benchmark**: a benchmark
  present in several inputs with the same row (value, statistics, samples, start time …) is one
  result; with different rows it is a *conflict*;
* ``machine.json`` files under one machine name must be equal, ``benchmarks.json`` entries of one
  benchmark too, and so must the header of a result file (Python, requirements, machine
  parameters); a difference is a conflict;
* with ``prefer="newest"`` a conflict is settled for the newer side instead: a benchmark's row by
  its ``started_at`` (the later input on a tie), a header, ``machine.json`` or ``benchmarks.json``
  by the input whose results there started last.

``plan_merge`` writes the merged files with asv's own JSON writer into a staging folder as it goes
(one result file in memory at a time), or keeps them when given none; it raises ``ToolError``
naming every conflict once all files are seen, and the caller then drops the staging folder.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tools.errors import ToolError

MACHINE_FILE, BENCHMARKS_FILE = "machine.json", "benchmarks.json"
PREFER = ("newest",)
HEADER = ("commit_hash", "env_name", "date", "params", "python", "requirements", "env_vars", "asv_version")
# asv 0.6's column order (asv.results.Results.save)
COLUMNS = [
    "result", "params", "version", "started_at", "duration", "stats_ci_99_a", "stats_ci_99_b",
    "stats_q_25", "stats_q_75", "stats_number", "stats_repeat", "samples", "profile",
]  # fmt: skip
MAX_NAMED = 5  # conflicts named in the error line


@dataclass
class ResultFile:
    """One parsed result file: its header, rows by benchmark (column -> value) and where it came from."""

    source: Path
    header: dict
    rows: dict[str, dict]
    durations: dict

    @property
    def newest(self) -> float:
        times = [r.get("started_at") for r in self.rows.values()]
        return max((float(t) for t in times if isinstance(t, (int, float))), default=float("-inf"))


@dataclass
class Merged:
    """The merged tree: written under ``stage`` as it is made (or held in ``files`` without one),
    the relative paths written, and the conflicts met."""

    stage: Path | None = None
    files: dict[str, dict] = field(default_factory=dict)
    written: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    combined: int = 0  # result files that came from more than one input

    def put(self, rel: str, data: dict) -> None:
        self.written.append(rel)
        if self.stage is None:
            self.files[rel] = data
            return
        from asv.util import write_json

        compact = rel != BENCHMARKS_FILE and not rel.endswith("/" + MACHINE_FILE)
        write_json(str(self.stage / rel), data, compact=compact)


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ToolError(f"{path}: cannot read ({exc})") from None
    if not isinstance(data, dict):
        raise ToolError(f"{path}: expected a JSON object")
    return data


def read_result_file(path: Path) -> ResultFile:
    """Parse a result file of format 2 (format 1 converted by asv) into rows by column name."""
    data = _read_json(path)
    if data.get("version") == 1:
        from asv.results import Results
        from asv.util import UserError

        try:
            data = Results.update_to_2(data)
        except (UserError, KeyError, TypeError) as exc:
            raise ToolError(f"{path}: cannot convert asv results format 1 ({exc})") from None
    elif data.get("version") != 2:
        raise ToolError(f"{path}: asv results format {data.get('version')!r} (expected 1 or 2)")
    missing = [k for k in ("commit_hash", "env_name", "result_columns", "results") if k not in data]
    if missing or not isinstance(data["results"], dict):
        raise ToolError(f"{path}: not an asv result file (missing {', '.join(missing) or 'results'})")
    columns = list(data["result_columns"])
    rows = {name: dict(zip(columns, row)) for name, row in data["results"].items()}
    return ResultFile(path, {k: data.get(k) for k in HEADER}, rows, dict(data.get("durations") or {}))


def _row(values: dict) -> list:
    row = [values.get(c) for c in COLUMNS]
    while row and row[-1] is None:
        row.pop()
    return row


def _name(rel: str, f: ResultFile) -> str:
    machine = rel.split("/", 1)[0]
    return f"machine {machine}, commit {str(f.header['commit_hash'])[:8]}, env {f.header['env_name']}"


def merge_result_files(rel: str, files: Sequence[ResultFile], prefer: str | None, merged: Merged) -> dict:
    """One result file from the same file of several inputs (in input order)."""
    newest = max(range(len(files)), key=lambda i: (files[i].newest, i))
    header = dict(files[0].header)
    for f in files[1:]:
        differ = [k for k in HEADER if f.header.get(k) != header.get(k)]
        if differ and prefer is None:
            merged.conflicts.append(f"{_name(rel, f)}: {', '.join(differ)} differ ({files[0].source} vs {f.source})")
    if prefer is not None:
        header = dict(files[newest].header)
    rows: dict[str, tuple[dict, ResultFile, int]] = {}
    for i, f in enumerate(files):
        for bench, values in f.rows.items():
            if bench not in rows or rows[bench][0] == values:
                rows.setdefault(bench, (values, f, i))
                continue
            kept, src, j = rows[bench]
            if prefer is None:
                merged.conflicts.append(
                    f"{_name(rel, f)}, benchmark {bench}: two different results ({src.source} vs {f.source})"
                )
            elif (_started(values), i) > (_started(kept), j):
                rows[bench] = (values, f, i)
    durations = {}
    for f in sorted(files, key=lambda f: f.newest):
        durations.update(f.durations)
    header = {k: v for k, v in header.items() if v is not None or k != "asv_version"}  # asv never writes it
    return {**header, "result_columns": COLUMNS, "results": {b: _row(v[0]) for b, v in sorted(rows.items())},
            "durations": durations, "version": 2}  # fmt: skip


def _started(values: dict) -> float:
    t = values.get("started_at")
    return float(t) if isinstance(t, (int, float)) else float("-inf")


def _tree_files(root: Path) -> tuple[dict[str, Path], list[str]]:
    """(relative path -> file) of a results tree, and its machine folders."""
    if not root.is_dir():
        raise ToolError(f"results directory {root} does not exist")
    files, machines = {}, []
    if (root / BENCHMARKS_FILE).is_file():
        files[BENCHMARKS_FILE] = root / BENCHMARKS_FILE
    for mdir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        found = sorted(mdir.glob("*.json"))
        if found:
            machines.append(mdir.name)
        files.update({f"{mdir.name}/{p.name}": p for p in found})
    return files, machines


def _same_bytes(paths: Sequence[Path]) -> bool:
    first = paths[0].read_bytes()
    return all(p.read_bytes() == first for p in paths[1:])


def _merge_results(groups: dict[str, list[tuple[int, Path]]], prefer, merged: Merged) -> dict[tuple[int, str], float]:
    """Result files into ``merged``; returns the newest start time of each input per machine."""
    newest: dict[tuple[int, str], float] = {}
    for rel, sources in sorted(groups.items()):
        paths = [p for _, p in sources]
        same = len(paths) == 1 or _same_bytes(paths)
        parsed = [read_result_file(p) for p in (paths[:1] if same else paths)]
        for k, (i, _) in enumerate(sources):
            key = (i, rel.split("/", 1)[0])
            newest[key] = max(newest.get(key, float("-inf")), parsed[0 if same else k].newest)
        merged.combined += 0 if same else 1
        merged.put(rel, merge_result_files(rel, parsed, prefer, merged))
    return newest


def _merge_machine_files(groups, newest, prefer, merged: Merged) -> None:
    for rel, sources in sorted(groups.items()):
        machine = rel.split("/", 1)[0]
        datas = [(i, p, _read_json(p)) for i, p in sources]
        distinct = {json.dumps(d, sort_keys=True) for _, _, d in datas}
        if len(distinct) > 1 and prefer is None:
            paths = " vs ".join(str(p) for _, p, _ in datas)
            merged.conflicts.append(f"machine {machine}: conflicting machine.json files ({paths})")
        pick = max(datas, key=lambda x: (newest.get((x[0], machine), float("-inf")), x[0]))
        merged.put(rel, pick[2])


def _merge_benchmarks(sources: list[tuple[int, Path]], newest_of, prefer, merged: Merged) -> None:
    """The union of the benchmarks.json files; one benchmark described differently is a conflict."""
    entries: dict[str, tuple[dict, int, Path]] = {}
    for i, path in sources:
        data = _read_json(path)
        for name, meta in data.items():
            if name == "version" or not isinstance(meta, dict):
                continue
            if name not in entries or entries[name][0] == meta:
                entries.setdefault(name, (meta, i, path))
                continue
            kept, j, kept_path = entries[name]
            if prefer is None:
                merged.conflicts.append(f"benchmark {name}: described differently in {kept_path} and {path}")
            elif (newest_of(i), i) > (newest_of(j), j):
                entries[name] = (meta, i, path)
    merged.put(BENCHMARKS_FILE, {**{n: e[0] for n, e in sorted(entries.items())}, "version": 2})


def plan_merge(inputs: Sequence[Path], prefer: str | None = None, stage: Path | None = None) -> Merged:
    """The merged tree of the results trees ``inputs`` (in order), written under ``stage`` when
    given; ToolError naming the conflicts."""
    if prefer is not None and prefer not in PREFER:
        raise ToolError(f"--prefer {prefer!r}: expected one of {', '.join(PREFER)}")
    results: dict[str, list[tuple[int, Path]]] = {}
    machines: dict[str, list[tuple[int, Path]]] = {}
    benches: list[tuple[int, Path]] = []
    for i, root in enumerate(inputs):
        files, _ = _tree_files(Path(root))
        if not files:
            raise ToolError(f"{root}: not an asv results tree (no benchmarks.json, no <machine>/*.json)")
        for rel, path in files.items():
            if rel == BENCHMARKS_FILE:
                benches.append((i, path))
            else:
                (machines if rel.endswith("/" + MACHINE_FILE) else results).setdefault(rel, []).append((i, path))
    merged = Merged(stage=stage)
    newest = _merge_results(results, prefer, merged)
    _merge_machine_files(machines, newest, prefer, merged)

    def newest_of(i: int) -> float:
        return max((t for (j, _), t in newest.items() if j == i), default=float("-inf"))

    if benches:
        _merge_benchmarks(benches, newest_of, prefer, merged)
    if merged.conflicts:
        raise ToolError(_conflict_message(merged.conflicts))
    return merged


def _conflict_message(conflicts: list[str]) -> str:
    named = "; ".join(conflicts[:MAX_NAMED])
    more = f"; and {len(conflicts) - MAX_NAMED} more" if len(conflicts) > MAX_NAMED else ""
    return f"{len(conflicts)} conflict(s), nothing written (--prefer newest keeps the newer of each): {named}{more}"


def write_tree(merged: Merged, out: Path) -> int:
    """Write the files ``merged`` holds (made without a staging folder) under ``out``."""
    staged = Merged(stage=out)
    for rel, data in merged.files.items():
        staged.put(rel, data)
    return len(staged.written)


# ---------------------------------------------------------------- interleaved rounds


def rounds_trees(roots: Sequence[Path]) -> dict[str, list[Path]]:
    """``<session>/round-<k>`` -> that round's results tree in each rounds root that has it
    (the layout of ``tools.rounds_layout``; asv's scratch folders left out)."""
    from tools.rounds_layout import round_dirs, session_dirs

    found: dict[str, list[Path]] = {}
    for root in roots:
        if not Path(root).is_dir():
            raise ToolError(f"rounds directory {root} does not exist")
        for session in session_dirs(Path(root)):
            for rd in round_dirs(session):
                found.setdefault(f"{session.name}/{rd.name}", []).append(rd)
    if not found:
        raise ToolError(f"no <session>/round-<k> folders in {', '.join(map(str, roots))}")
    return found


def plan_rounds_merge(roots: Sequence[Path], prefer: str | None = None, stage: Path | None = None) -> Merged:
    """Every round of every session merged across the rounds roots ``roots`` (under ``stage``)."""
    merged = Merged(stage=stage)
    conflicts = []
    for rel, trees in sorted(rounds_trees(roots).items()):
        try:
            one = plan_merge(trees, prefer, stage / rel if stage is not None else None)
        except ToolError as exc:
            conflicts.append(f"{rel}: {exc}")
            continue
        merged.files.update({f"{rel}/{k}": v for k, v in one.files.items()})
        merged.written += [f"{rel}/{k}" for k in one.written]
        merged.combined += one.combined
    if conflicts:
        more = f"; and {len(conflicts) - MAX_NAMED} more round(s)" if len(conflicts) > MAX_NAMED else ""
        raise ToolError("; ".join(conflicts[:MAX_NAMED]) + more)
    return merged
