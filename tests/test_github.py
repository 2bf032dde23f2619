"""CI's GitHub logic, offline: issue dedupe, PR comment upsert, bodies, the REST client."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tools import github
from tools.errors import ToolError

ROOT = Path(__file__).resolve().parents[1]
SHA_A = "a" * 8 + "1234567890abcdef1234567890abcdef"
SHA_B = "b" * 8 + "1234567890abcdef1234567890abcdef"
SHA_BASE = "c" * 40


def _issue(number, commit=None, title=None, state="open", **extra):
    body = f"report\n{github.issue_marker(commit)}\n" if commit else "unrelated"
    return {"number": number, "title": title or "something", "body": body, "state": state, **extra}


def _report(rows, head=SHA_A, base=SHA_BASE):
    return {"base": base, "head": head, "results": rows}


def _row(bench, verdict, change=12.3, **extra):
    return {
        "benchmark": bench,
        "params": "",
        "verdict": verdict,
        "change_pct": change,
        "ci_low_pct": change - 4,
        "ci_high_pct": change + 4,
        **extra,
    }


# ---- dedupe -------------------------------------------------------------------------


def test_plan_creates_when_no_issue_exists():
    plan = github.plan_issues([SHA_A], [_issue(1, SHA_B)])
    assert plan == [github.IssueAction("create", SHA_A)]


def test_plan_skips_commit_with_marked_issue_even_if_closed_or_retitled():
    existing = [_issue(7, SHA_A, title="renamed by a human", state="closed")]
    plan = github.plan_issues([SHA_A], existing)
    assert plan == [github.IssueAction("skip", SHA_A, 7, "closed")]


def test_plan_matches_abbreviated_marker_and_title_fallback():
    short_marker = {"number": 3, "title": "x", "body": f"<!-- intellirouter-perf:{SHA_A[:8]} -->", "state": "open"}
    assert github.plan_issues([SHA_A], [short_marker])[0].existing == 3
    # marker removed by an edit: the stable title still finds it
    by_title = {"number": 4, "title": github.issue_title(SHA_A), "body": "edited", "state": "open"}
    assert github.plan_issues([SHA_A], [by_title])[0].kind == "skip"


def test_plan_ignores_pull_requests_and_prefix_collisions():
    pr = _issue(5, SHA_A, pull_request={"url": "x"})
    assert github.plan_issues([SHA_A], [pr])[0].kind == "create"
    # 6-character prefixes are too short to claim the same commit
    assert not github.same_commit("aaaaaa", SHA_A)
    assert github.same_commit(SHA_A[:7], SHA_A)
    assert not github.same_commit(SHA_A, SHA_B)


def test_plan_one_action_per_commit_and_order_kept():
    plan = github.plan_issues([SHA_B, SHA_A, SHA_B[:10]], [_issue(9, SHA_A)])
    assert [(a.kind, a.commit) for a in plan] == [("create", SHA_B), ("skip", SHA_A)]


# ---- the report ---------------------------------------------------------------------


def test_regressions_grouped_by_commit():
    report = _report(
        [
            _row("router_benchmarks.Route.time_route", "regressed"),
            _row("memory_benchmarks.Add.time_add", "improved", -20),
            _row(
                "rag_manager_benchmarks.Query.time_query",
                "regressed",
                mode="history",
                commit_before=SHA_BASE,
                commit_after=SHA_B,
                confirmed=True,
            ),
            # change points not (or not successfully) re-measured open no issue
            _row(
                "chain_engine_benchmarks.Run.time_run",
                "regressed",
                mode="history",
                commit_after="e" * 40,
                confirmed=None,
            ),
            _row(
                "chain_engine_benchmarks.Run.time_big",
                "regressed",
                mode="history",
                commit_after="f" * 40,
                confirmed=False,
            ),
            _row("x.Y.time_z", "inconclusive", mode="pairwise", head_commit=SHA_A),
        ]
    )
    got = github.regressions_by_commit(report)
    assert list(got) == [SHA_A, SHA_B]
    assert [r.finding.benchmark for r in got[SHA_A]] == ["router_benchmarks.Route.time_route"]
    assert [r.finding.benchmark for r in got[SHA_B]] == ["rag_manager_benchmarks.Query.time_query"]
    assert all(r.commit == c for c, rs in got.items() for r in rs)


def test_regressions_none_and_bad_shapes():
    assert github.regressions_by_commit(_report([_row("a.B.time_c", "unchanged", 0.1)])) == {}
    with pytest.raises(ToolError, match="no list of results"):
        github.regressions_by_commit({"head": SHA_A})
    with pytest.raises(ToolError, match="names no commit"):
        github.regressions_by_commit({"results": [_row("a.B.time_c", "regressed")]})


def test_load_report_errors(tmp_path):
    with pytest.raises(ToolError, match="cannot read"):
        github.load_report(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{truncated", encoding="utf-8")
    with pytest.raises(ToolError, match="bad.json: not valid JSON"):
        github.load_report(bad)
    with pytest.raises(ToolError, match="no regression_report"):
        github.latest_report(tmp_path, ".json")


def test_latest_report_picks_newest(tmp_path):
    for ts in ("2026-01-02_00-00-00", "2026-11-26_10-00-00", "2026-03-01_00-00-00"):
        (tmp_path / f"regression_report_{ts}.json").write_text("{}")
    assert github.latest_report(tmp_path, ".json").name == "regression_report_2026-11-26_10-00-00.json"


# ---- bodies -------------------------------------------------------------------------


def test_issue_body_has_marker_table_graph_links_and_report():
    rows = list(
        github.regressions_by_commit(
            _report([_row("router_benchmarks.Route.time_route", "regressed", 15.0, params="n_models=100")])
        )[SHA_A]
    )
    body = github.issue_body(
        SHA_A,
        rows,
        "# Regression report\nfull text",
        base=SHA_BASE,
        repo_url="https://github.com/o/r",
        site_url="https://o.github.io/r/",
        run_url="https://run",
    )
    assert body.startswith(github.issue_marker(SHA_A))
    assert github.marked_commit({"body": body}) == SHA_A
    assert "+15.0%" in body and "+11.0% … +19.0%" in body
    assert "[graph](https://o.github.io/r/#router_benchmarks.Route.time_route)" in body
    assert "https://o.github.io/r/#regressions" in body
    assert f"[`{SHA_A[:8]}`](https://github.com/o/r/commit/{SHA_A})" in body
    assert "full text" in body and "https://run" in body
    assert "<summary>Full regression report</summary>\n\n# Regression report" in body


def test_graph_url_keeps_the_reports_selection_on_the_deployed_site():
    own = ".asv/html/index.html#m.C.time_x?machine=gh&p-n=100"
    assert (
        github.graph_url("https://o.github.io/r/", own, "m.C.time_x")
        == "https://o.github.io/r/#m.C.time_x?machine=gh&p-n=100"
    )
    assert github.graph_url(None, own, "m.C.time_x") is None  # a local path is no link for an issue
    own = "https://o.github.io/r/#m.C.time_x"
    assert github.graph_url(None, own, "m.C.time_x") == "https://o.github.io/r/#m.C.time_x"
    assert github.graph_url("https://s", "", "m.C.time_y") == "https://s/#m.C.time_y"


def test_bodies_fit_githubs_limit():
    huge = "\n".join(f"| row {i} | {'x' * 80} |" for i in range(5000))
    rows = github.regressions_by_commit(_report([_row("a.B.time_c", "regressed")]))[SHA_A]
    body = github.issue_body(SHA_A, rows, huge)
    assert len(body) <= github.MAX_BODY_CHARS and "report truncated" in body
    assert body.rstrip().endswith("</details>")
    comment = github.pr_comment_body(huge, base=SHA_BASE, head=SHA_A, failed=True)
    assert len(comment) <= github.MAX_BODY_CHARS and "truncated" in comment


def test_pr_comment_body():
    ok = github.pr_comment_body("report", base=SHA_BASE, head=SHA_A, failed=False)
    bad = github.pr_comment_body("report", base=SHA_BASE, head=SHA_A, failed=True)
    assert ok.startswith(github.PR_COMMENT_MARKER)
    assert "No confirmed performance regression" in ok and "Confirmed performance regression" in bad
    assert f"`{SHA_A[:8]}` (head) vs `{SHA_BASE[:8]}` (merge base)" in ok
    assert "_This comment is updated on every push._\n\nreport" in ok  # Markdown needs the blank line
    counted = github.pr_comment_body(
        "r",
        base=SHA_BASE,
        head=SHA_A,
        failed=False,
        counts={"regressed": 0, "improved": 1, "inconclusive": 3, "unchanged": 9},
    )
    assert "(0 regressed, 1 improved, 3 inconclusive, 9 unchanged)" in counted


# ---- PR comment upsert --------------------------------------------------------------


def _comment(cid, body, login="github-actions[bot]"):
    return {"id": cid, "body": body, "user": {"login": login}}


def test_plan_pr_comment():
    assert github.plan_pr_comment([]) == ("create", None)
    comments = [
        _comment(1, "lgtm", "alice"),
        _comment(2, github.PR_COMMENT_MARKER + " old"),
        _comment(3, github.PR_COMMENT_MARKER + " quoted by a human", "mallory"),
        _comment(4, github.PR_COMMENT_MARKER + " newer"),
    ]
    assert github.plan_pr_comment(comments, "github-actions[bot]") == ("update", 4)
    # someone else quoting the marker is never edited
    assert github.plan_pr_comment(comments[:1] + comments[2:3], "github-actions[bot]") == ("create", None)


class FakeGitHub:
    """An in-memory stand-in for the REST API, used through RestClient's transport."""

    def __init__(self, issues=(), comments=(), labels=("performance",), fail=None, page_size=2):
        self.issues = list(issues)
        self.comments = list(comments)
        self.labels = [{"name": n} for n in labels]
        self.calls = []
        self.fail = fail
        self.page_size = page_size

    def _page(self, items, url):
        page = int(url.split("page=")[-1]) if "&page=" in url else 1
        chunk = items[(page - 1) * self.page_size : page * self.page_size]
        headers = {}
        if page * self.page_size < len(items):
            base = url.split("&page=")[0]
            headers["Link"] = f'<{base}&page={page + 1}>; rel="next"'
        return 200, headers, chunk

    def __call__(self, method, url, body, headers):
        assert headers["Authorization"] == "Bearer t0ken"
        path = url.removeprefix("https://api.example")
        self.calls.append((method, path.split("?")[0], body))
        if self.fail and method == self.fail[0]:
            return self.fail[1], {}, {"message": "Resource not accessible by integration"}
        if method == "GET" and "/issues?" in path:
            assert "labels=automated" in path and "state=all" in path
            return self._page(self.issues, url)
        if method == "GET" and "/labels" in path:
            return self._page(self.labels, url)
        if method == "GET" and path.split("?")[0].endswith("/comments"):
            return self._page(self.comments, url)
        if method == "POST" and path.endswith("/labels"):
            self.labels.append({"name": body["name"]})
            return 201, {}, body
        if method == "POST" and path.endswith("/issues"):
            issue = {"number": 100 + len(self.issues), "state": "open", **body}
            self.issues.append(issue)
            return 201, {}, issue
        if method == "POST" and path.endswith("/comments"):
            return 201, {}, {"id": 99, "body": body["body"], "html_url": "c"}
        if method == "PATCH":
            return 200, {}, {"id": int(path.rsplit("/", 1)[1]), **body}
        raise AssertionError(f"unexpected {method} {url}")


def _client(fake):
    return github.RestClient("o/r", "t0ken", "https://api.example", transport=fake)


def test_open_regression_issues_creates_once_then_skips():
    fake = FakeGitHub(issues=[_issue(1), _issue(2), _issue(3, "d" * 40)])  # 3 issues: 2 pages
    report = _report([_row("a.B.time_c", "regressed")])
    logs = []
    plan = github.open_regression_issues(_client(fake), report, "# report", site_url="https://s/", log=logs.append)
    assert [a.kind for a in plan] == ["create"]
    created = [c for c in fake.calls if c[0] == "POST" and c[1].endswith("/issues")]
    assert len(created) == 1
    assert created[0][2]["title"] == github.issue_title(SHA_A)
    assert created[0][2]["labels"] == ["performance", "regression", "automated"]
    assert {lbl["name"] for lbl in fake.labels} >= {"performance", "regression", "automated"}
    # the next run (same regression still reported) finds the issue and opens nothing
    fake.calls.clear()
    plan = github.open_regression_issues(_client(fake), report, "# report", log=logs.append)
    assert [a.kind for a in plan] == ["skip"]
    assert not [c for c in fake.calls if c[0] == "POST"]
    assert any("already exists" in line for line in logs)


def test_open_regression_issues_nothing_regressed_makes_no_calls():
    fake = FakeGitHub()
    assert (
        github.open_regression_issues(_client(fake), _report([_row("a.B.c", "unchanged")]), "", log=lambda m: None)
        == []
    )
    assert fake.calls == []


def test_upsert_pr_comment_updates_existing_else_posts():
    fake = FakeGitHub(comments=[_comment(1, "hi", "alice"), _comment(2, "x"), _comment(7, github.PR_COMMENT_MARKER)])
    action, comment = github.upsert_pr_comment(_client(fake), 12, "new body")
    assert (action, comment["id"]) == ("update", 7)
    assert fake.calls[-1] == ("PATCH", "/repos/o/r/issues/comments/7", {"body": "new body"})
    fake = FakeGitHub(comments=[_comment(1, "hi", "alice")])
    action, _ = github.upsert_pr_comment(_client(fake), 12, "body")
    assert action == "create" and fake.calls[-1][:2] == ("POST", "/repos/o/r/issues/12/comments")


def test_rest_errors_are_tool_errors_with_status():
    fake = FakeGitHub(fail=("GET", 403))
    with pytest.raises(github.GitHubError) as info:
        github.upsert_pr_comment(_client(fake), 1, "b")
    assert info.value.status == 403 and "Resource not accessible" in str(info.value)


def test_client_from_env_needs_token():
    with pytest.raises(ToolError, match="GITHUB_TOKEN"):
        github.RestClient.from_env({"GITHUB_REPOSITORY": "o/r"})
    client = github.RestClient.from_env(
        {"GITHUB_REPOSITORY": "o/r", "GITHUB_TOKEN": "t", "GITHUB_API_URL": "https://ghe/api/v3/"}
    )
    assert client.api_url == "https://ghe/api/v3"


# ---- the commands, end to end through their CLI ------------------------------------------


def _write_report(tmp_path, rows):
    j = tmp_path / "regression_report_2026-11-26_10-00-00.json"
    j.write_text(json.dumps(_report(rows)), encoding="utf-8")
    j.with_suffix(".md").write_text("# Regression report\n\nrouter got slower", encoding="utf-8")
    return j


def _run(module, *args, env=None, cwd=ROOT):
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={"PATH": "/usr/bin:/bin", **(env or {})},
    )


def test_ci_issue_check_writes_github_output(tmp_path):
    report = _write_report(tmp_path, [_row("a.B.time_c", "regressed")])
    out = tmp_path / "gh_output"
    proc = _run("tools.commands.ci_issue", "--check", "--report", str(report), env={"GITHUB_OUTPUT": str(out)})
    assert proc.returncode == 0, proc.stderr
    assert out.read_text() == "regressed=true\n"
    report.write_text(json.dumps(_report([_row("a.B.time_c", "improved")])))
    proc = _run("tools.commands.ci_issue", "--check", "--report", str(report))
    assert proc.stdout.strip() == "regressed=false"


def test_ci_issue_check_without_any_report_is_false(tmp_path):
    # first run: the pipeline had nothing to compare with, so wrote no report
    proc = _run("tools.commands.ci_issue", "--check", cwd=tmp_path, env={"PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "regressed=false" and "first run" in proc.stderr
    # but a report that is there and broken is an error
    reports = tmp_path / "metrics" / "performance" / "reports"
    reports.mkdir(parents=True)
    (reports / "regression_report_2026-11-26_10-00-00.json").write_text("{")
    proc = _run("tools.commands.ci_issue", "--check", cwd=tmp_path, env={"PYTHONPATH": str(ROOT)})
    assert proc.returncode == 2 and "not valid JSON" in proc.stderr


def test_ci_issue_dry_run_and_errors(tmp_path):
    report = _write_report(tmp_path, [_row("a.B.time_c", "regressed")])
    proc = _run("tools", "ci-issue", "--dry-run", "--report", str(report), "--site-url", "https://s")
    assert proc.returncode == 0, proc.stderr
    assert github.issue_title(SHA_A) in proc.stdout and "router got slower" in proc.stdout
    # no token outside GitHub: one clear line, exit 2
    proc = _run("tools.commands.ci_issue", "--report", str(report))
    assert proc.returncode == 2 and proc.stderr.strip().startswith("error: GITHUB_TOKEN")
    report.write_text("not json")
    proc = _run("tools.commands.ci_issue", "--report", str(report))
    assert proc.returncode == 2 and "not valid JSON" in proc.stderr and "Traceback" not in proc.stderr


def test_ci_comment_summary_and_body_out(tmp_path):
    report = _write_report(tmp_path, [_row("a.B.time_c", "regressed")])
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    body = tmp_path / "out" / "body.md"
    proc = _run(
        "tools.commands.ci_comment",
        "--report",
        str(report),
        "--no-post",
        "--summary",
        "--body-out",
        str(body),
        env={"GITHUB_STEP_SUMMARY": str(summary)},
    )
    assert proc.returncode == 0, proc.stderr
    text = body.read_text()
    assert text.startswith(github.PR_COMMENT_MARKER) and "router got slower" in text
    assert (
        summary.read_text().startswith("earlier step\n") and "Confirmed performance regression" in summary.read_text()
    )


def test_ci_comment_body_file_gets_marker_and_needs_pr(tmp_path):
    body = tmp_path / "body.md"
    body.write_text("hello")
    out = tmp_path / "final.md"
    proc = _run("tools.commands.ci_comment", "--body-file", str(body), "--no-post", "--body-out", str(out))
    assert proc.returncode == 0 and out.read_text().startswith(github.PR_COMMENT_MARKER)
    proc = _run("tools.commands.ci_comment", "--body-file", str(body))
    assert proc.returncode == 2 and "no pull request number" in proc.stderr
    proc = _run("tools.commands.ci_comment", "--body-file", str(tmp_path / "nope.md"), "--pr", "3")
    assert proc.returncode == 2 and "nope.md: cannot read" in proc.stderr


def test_ci_comment_read_only_token_is_a_notice(tmp_path, monkeypatch, capsys):
    from tools.commands import ci_comment

    body = tmp_path / "body.md"
    body.write_text("hello")
    fake = FakeGitHub(fail=("POST", 403))
    monkeypatch.setattr(github.RestClient, "from_env", classmethod(lambda cls, *a, **k: _client(fake)))
    rc = github.standalone_main(ci_comment, ["--body-file", str(body), "--pr", "5"])
    assert rc == 0
    assert "::notice title=PR comment skipped::" in capsys.readouterr().out


def test_pr_number_from_event(tmp_path):
    from tools.commands.ci_comment import pr_number_from_event

    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 42}}))
    assert pr_number_from_event({"GITHUB_EVENT_PATH": str(event)}) == 42
    assert pr_number_from_event({}) is None
