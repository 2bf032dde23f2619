"""GitHub side of CI: one issue per regressing commit, one PR comment updated in place.

The decisions are pure functions over plain data (the issue/comment lists GitHub returns),
so they are tested offline; ``RestClient`` is the thin part that talks to the REST API with
the workflow's ``GITHUB_TOKEN``.

Deduplication: every issue this module opens carries a hidden marker
``<!-- intellirouter-perf:<full sha> -->`` and the title ``Performance regression in <sha8>``.
Before opening one, all issues labelled ``automated`` (open *and* closed, so a closed issue is
not re-opened as a new one) are listed and matched on marker or title.
The PR comment carries ``<!-- intellirouter-perf-pr -->``; the newest comment with it is
edited on every push instead of adding a new one.
"""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools.detect.finding import Finding, from_record
from tools.errors import ToolError
from tools.humanize import human_pct
from tools.render import md_table

ISSUE_LABELS = ("performance", "regression", "automated")
ISSUE_MARKER_PREFIX = "intellirouter-perf:"
PR_COMMENT_MARKER = "<!-- intellirouter-perf-pr -->"
# GitHub rejects issue and comment bodies over 65,536 characters.
MAX_BODY_CHARS = 65_000
LABEL_COLORS = {"performance": "fbca04", "regression": "d73a4a", "automated": "ededed"}


# ---------------------------------------------------------------- pure decisions ----


def issue_marker(commit: str) -> str:
    return f"<!-- {ISSUE_MARKER_PREFIX}{commit} -->"


def issue_title(commit: str) -> str:
    return f"Performance regression in {commit[:8]}"


_MARKER_RE = re.compile(r"<!--\s*" + re.escape(ISSUE_MARKER_PREFIX) + r"([0-9a-fA-F]{7,40})\s*-->")


def marked_commit(issue: Mapping[str, Any]) -> str | None:
    """The commit an existing issue is about, from its hidden marker (None if unmarked)."""
    m = _MARKER_RE.search(issue.get("body") or "")
    return m.group(1).lower() if m else None


def same_commit(a: str, b: str) -> bool:
    """Full or abbreviated hashes name the same commit when one is a prefix of the other."""
    a, b = a.lower(), b.lower()
    n = min(len(a), len(b))
    return n >= 7 and a[:n] == b[:n]


def find_issue_for_commit(issues: Iterable[Mapping[str, Any]], commit: str) -> Mapping[str, Any] | None:
    """The existing issue (open or closed) about ``commit``, matched by marker, else by title."""
    issues = [i for i in issues if "pull_request" not in i]  # the issues API lists PRs too
    for issue in issues:
        marked = marked_commit(issue)
        if marked and same_commit(marked, commit):
            return issue
    title = issue_title(commit)
    for issue in issues:
        if (issue.get("title") or "").strip() == title:
            return issue
    return None


@dataclass(frozen=True)
class IssueAction:
    kind: str  # "create" | "skip"
    commit: str
    existing: int | None = None  # issue number when skipped as a duplicate
    state: str | None = None


def plan_issues(commits: Sequence[str], existing: Iterable[Mapping[str, Any]]) -> list[IssueAction]:
    """Decide, per regressing commit, whether to open an issue or skip it as a duplicate.

    A commit listed twice is planned once.
    """
    existing = list(existing)
    plan: list[IssueAction] = []
    for commit in commits:
        if any(same_commit(a.commit, commit) for a in plan):
            continue
        found = find_issue_for_commit(existing, commit)
        if found is None:
            plan.append(IssueAction("create", commit))
        else:
            plan.append(IssueAction("skip", commit, found.get("number"), found.get("state")))
    return plan


def find_pr_comment(comments: Iterable[Mapping[str, Any]], bot_login: str | None = None) -> Mapping[str, Any] | None:
    """The newest comment carrying the PR marker (written by ``bot_login`` when given)."""
    found = None
    for c in comments:
        if PR_COMMENT_MARKER not in (c.get("body") or ""):
            continue
        if bot_login and (c.get("user") or {}).get("login") != bot_login:
            continue
        found = c  # the API lists oldest first: keep the last
    return found


def plan_pr_comment(comments: Iterable[Mapping[str, Any]], bot_login: str | None = None) -> tuple[str, int | None]:
    """``("update", comment_id)`` when our comment exists, else ``("create", None)``."""
    found = find_pr_comment(comments, bot_login)
    return ("update", found["id"]) if found else ("create", None)


def truncate(text: str, limit: int, note: str) -> str:
    """``text`` cut to ``limit`` characters on a line boundary, with ``note`` appended."""
    if len(text) <= limit:
        return text
    cut = text.rfind("\n", 0, max(0, limit - len(note) - 2))
    cut = cut if cut > 0 else max(0, limit - len(note) - 2)
    return text[:cut] + "\n\n" + note


# ---------------------------------------------------------------- the report ----


def _rows(report: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    for key in ("results", "rows", "benchmarks", "comparisons"):
        rows = report.get(key)
        if isinstance(rows, list):
            return [r for r in rows if isinstance(r, Mapping)]
    raise ToolError("regression report JSON has no list of results (expected a 'results' key)")


def commit_of(value: Any) -> str | None:
    if isinstance(value, Mapping):
        value = value.get("commit") or value.get("hash") or value.get("sha")
    return str(value) if value else None


@dataclass(frozen=True)
class Regression:
    """A regressed finding of a report, the commit it is blamed on, and the report's graph link."""

    finding: Finding
    commit: str
    graph_url: str = ""  # the report's own link (machine and parameters selected), '' if none


def _blamed_commit(f: Finding, row: Mapping[str, Any], head: str | None) -> str | None:
    """A pairwise finding belongs to its head commit (else the report's head); a history change
    point to the first commit after it."""
    if f.mode in ("history", "sessions"):
        return commit_of(row.get("commit_after"))
    return commit_of(row.get("head_commit")) or head


def regressions_by_commit(report: Mapping[str, Any]) -> dict[str, list[Regression]]:
    """Regressed findings of a regression report, grouped by the commit that introduced them.

    A pairwise finding (base vs head, measured interleaved) belongs to its ``head_commit`` (else
    the report's head). A history change point belongs to its ``commit_after``, but only once
    re-measured and ``confirmed``: unconfirmed change points stay in the report and open no
    issue (noisy false alarms are the first complaint about benchmark bots).
    """
    head = commit_of(report.get("head"))
    out: dict[str, list[Regression]] = {}
    for row in _rows(report):
        f = from_record(row)
        if f.verdict != "regressed":
            continue
        if f.mode in ("history", "sessions") and f.evidence.confirmed is not True:
            continue
        commit = _blamed_commit(f, row, head)
        if not commit:
            raise ToolError("regression report JSON: a regressed result names no commit and the report no head")
        own = str(((row.get("recommendations") or {}).get("graph_url")) or "")
        out.setdefault(commit, []).append(Regression(f, commit, own))
    return out


def load_report(path: Path) -> dict[str, Any]:
    try:
        report = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ToolError(f"{path}: cannot read regression report ({exc.strerror})") from exc
    except ValueError as exc:
        raise ToolError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(report, dict):
        raise ToolError(f"{path}: expected a JSON object")
    return report


def latest_report(reports_dir: Path, suffix: str) -> Path:
    """The newest ``regression_report_<ts><suffix>`` (timestamps sort as text)."""
    found = sorted(Path(reports_dir).glob(f"regression_report_*{suffix}"))
    if not found:
        raise ToolError(f"no regression_report_*{suffix} in {reports_dir}: run `python -m tools regressions` first")
    return found[-1]


def graph_url(site_url: str | None, own_url: str, benchmark: str) -> str | None:
    """The asv site's graph page for one result: ``<site>/#<benchmark>[?machine=..&p-..=..]``.

    The report's own link (``own_url``) carries the machine and parameter selection; it is
    re-rooted on ``site_url`` (the deployed site) when one is given.
    """
    fragment = own_url.split("#", 1)[1] if "#" in own_url else benchmark
    if site_url:
        return site_url.rstrip("/") + "/#" + fragment
    return own_url if own_url.startswith(("http://", "https://")) else None


def _regression_table(rows: Sequence[Regression], site_url: str | None) -> list[str]:
    conf = f"{rows[0].finding.confidence * 100:g}% CI" if rows else "CI"
    body = []
    for r in rows:
        f = r.finding
        url = graph_url(site_url, r.graph_url, f.benchmark)
        body.append(
            [
                f"`{f.benchmark}`",
                f.params,
                human_pct(f.change_pct, ascii=True),
                f"{human_pct(f.ci_low_pct, ascii=True)} … {human_pct(f.ci_high_pct, ascii=True)}",
                f"[graph]({url})" if url else "—",
            ]
        )
    return md_table(["benchmark", "params", "change", conf, "graph"], body, [False, False, True, False, False]).split(
        "\n"
    )


def issue_body(
    commit: str,
    rows: Sequence[Regression],
    report_md: str,
    *,
    base: str | None = None,
    repo_url: str | None = None,
    site_url: str | None = None,
    run_url: str | None = None,
) -> str:
    """The issue text: marker, what regressed with graph links, then the full report."""
    commit_ref = f"[`{commit[:8]}`]({repo_url}/commit/{commit})" if repo_url else f"`{commit[:8]}`"
    head = [issue_marker(commit), f"Benchmarks regressed in commit {commit_ref}"]
    if base:
        head[-1] += f" (compared with `{base[:8]}`)"
    head[-1] += f": {len(rows)} result(s)."
    lines = [*head, "", *_regression_table(rows, site_url), ""]
    links = []
    if site_url:
        links.append(f"[benchmark site]({site_url}) · [regressions page]({site_url.rstrip('/')}/#regressions)")
    if run_url:
        links.append(f"[workflow run and artifacts]({run_url})")
    if links:
        lines += [" · ".join(links), ""]
    lines += [
        "This issue was opened automatically, once for this commit; later runs that see the same "
        "regression do not open another one. Close it when resolved or accepted.",
        "",
        "<details><summary>Full regression report</summary>",
        "",
    ]
    prefix = "\n".join(lines) + "\n"  # GitHub renders Markdown inside <details> after a blank line
    tail = "\n\n</details>\n"
    note = "_(report truncated: see the full report in the run's artifacts)_"
    room = MAX_BODY_CHARS - len(prefix) - len(tail)
    return prefix + truncate(report_md.strip(), room, note) + tail


def pr_comment_body(
    report_md: str,
    *,
    base: str,
    head: str,
    failed: bool,
    run_url: str | None = None,
    counts: Mapping[str, int] | None = None,
) -> str:
    """The single PR comment: a one-line verdict, then the report (edited on each push)."""
    verdict = (
        ":x: **Confirmed performance regression**"
        if failed
        else ":white_check_mark: **No confirmed performance regression**"
    )
    if counts:
        verdict += (
            " ("
            + ", ".join(f"{counts.get(k, 0)} {k}" for k in ("regressed", "improved", "inconclusive", "unchanged"))
            + ")"
        )
    lines = [
        PR_COMMENT_MARKER,
        f"### Benchmarks: `{head[:8]}` (head) vs `{base[:8]}` (merge base)",
        "",
        verdict + (f" · [run and artifacts]({run_url})" if run_url else ""),
        "",
        "_This comment is updated on every push._",
        "",
    ]
    prefix = "\n".join(lines) + "\n"
    note = "_(report truncated: see the job summary or the run's artifacts)_"
    return prefix + truncate(report_md.strip(), MAX_BODY_CHARS - len(prefix) - 1, note) + "\n"


# ---------------------------------------------------------------- REST ----


class GitHubError(ToolError):
    def __init__(self, status: int, message: str):
        super().__init__(f"GitHub API {status}: {message}")
        self.status = status


Transport = Callable[[str, str, "dict | None", Mapping[str, str]], tuple[int, Mapping[str, str], Any]]


def _urllib_transport(method: str, url: str, body: dict | None, headers: Mapping[str, str]):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers=dict(headers))
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            raw = resp.read()
            return resp.status, dict(resp.headers), json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            payload = json.loads(raw) if raw else None
        except ValueError:
            payload = raw.decode(errors="replace")
        return exc.code, dict(exc.headers or {}), payload
    except urllib.error.URLError as exc:
        raise ToolError(f"cannot reach {url}: {exc.reason}") from exc


_NEXT_RE = re.compile(r'<([^>]+)>;\s*rel="next"')


class RestClient:
    """Minimal GitHub REST client (token from ``GITHUB_TOKEN``); the transport is injectable."""

    def __init__(
        self, repo: str, token: str, api_url: str = "https://api.github.com", transport: Transport | None = None
    ):
        self.repo = repo
        self.api_url = api_url.rstrip("/")
        self.headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
            "User-Agent": "intellirouter-benchmarks",
        }
        self.transport = transport or _urllib_transport

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ, transport: Transport | None = None) -> RestClient:
        missing = [k for k in ("GITHUB_TOKEN", "GITHUB_REPOSITORY") if not env.get(k)]
        if missing:
            raise ToolError(f"{' and '.join(missing)} not set (run inside GitHub Actions, or use --dry-run)")
        return cls(
            env["GITHUB_REPOSITORY"],
            env["GITHUB_TOKEN"],
            env.get("GITHUB_API_URL", "https://api.github.com"),
            transport,
        )

    def request(self, method: str, path: str, body: dict | None = None) -> Any:
        url = path if path.startswith("http") else f"{self.api_url}{path}"
        status, _, payload = self.transport(method, url, body, self.headers)
        if status >= 400:
            msg = payload.get("message") if isinstance(payload, Mapping) else str(payload)
            raise GitHubError(status, f"{method} {url}: {msg}")
        return payload

    def paginate(self, path: str, max_pages: int = 20) -> list:
        url = f"{self.api_url}{path}"
        items: list = []
        for _ in range(max_pages):
            status, headers, payload = self.transport("GET", url, None, self.headers)
            if status >= 400:
                msg = payload.get("message") if isinstance(payload, Mapping) else str(payload)
                raise GitHubError(status, f"GET {url}: {msg}")
            items.extend(payload or [])
            link = {k.lower(): v for k, v in headers.items()}.get("link", "")
            m = _NEXT_RE.search(link)
            if not m:
                break
            url = m.group(1)
        return items

    # -- issues
    def automated_issues(self) -> list:
        return self.paginate(f"/repos/{self.repo}/issues?labels=automated&state=all&per_page=100")

    def ensure_labels(self, labels: Iterable[str] = ISSUE_LABELS) -> None:
        existing = {lbl["name"] for lbl in self.paginate(f"/repos/{self.repo}/labels?per_page=100")}
        for name in labels:
            if name not in existing:
                self.request(
                    "POST", f"/repos/{self.repo}/labels", {"name": name, "color": LABEL_COLORS.get(name, "ededed")}
                )

    def create_issue(self, title: str, body: str, labels: Sequence[str] = ISSUE_LABELS) -> Any:
        return self.request(
            "POST", f"/repos/{self.repo}/issues", {"title": title, "body": body, "labels": list(labels)}
        )

    # -- PR comments
    def pr_comments(self, pr: int) -> list:
        return self.paginate(f"/repos/{self.repo}/issues/{pr}/comments?per_page=100")

    def create_comment(self, pr: int, body: str) -> Any:
        return self.request("POST", f"/repos/{self.repo}/issues/{pr}/comments", {"body": body})

    def update_comment(self, comment_id: int, body: str) -> Any:
        return self.request("PATCH", f"/repos/{self.repo}/issues/comments/{comment_id}", {"body": body})


def open_regression_issues(
    client: RestClient,
    report: Mapping[str, Any],
    report_md: str,
    *,
    site_url: str | None = None,
    run_url: str | None = None,
    repo_url: str | None = None,
    log: Callable[[str], None] = print,
) -> list[IssueAction]:
    """Open one issue per regressing commit that has none yet; return what was decided."""
    by_commit = regressions_by_commit(report)
    if not by_commit:
        log("no regression in the report: no issue to open")
        return []
    plan = plan_issues(list(by_commit), client.automated_issues())
    if any(a.kind == "create" for a in plan):
        client.ensure_labels()
    base = commit_of(report.get("base"))
    for action in plan:
        if action.kind == "skip":
            log(f"{action.commit[:8]}: issue #{action.existing} ({action.state}) already exists; not opening another")
            continue
        body = issue_body(
            action.commit,
            by_commit[action.commit],
            report_md,
            base=base,
            repo_url=repo_url,
            site_url=site_url,
            run_url=run_url,
        )
        created = client.create_issue(issue_title(action.commit), body)
        log(f"{action.commit[:8]}: opened issue #{created.get('number')} {created.get('html_url', '')}")
    return plan


def standalone_main(module, argv: Sequence[str] | None = None) -> int:
    """Run a ``tools.commands`` module by itself (``python -m tools.commands.ci_comment``).

    The CI jobs that hold a write token use this: it imports only the standard library and
    this module, so they need no ``pip install`` of the project (nor of PR code).
    """
    import argparse
    import sys

    spec = getattr(module, "__spec__", None)
    prog = f"python -m {spec.name if spec else module.__name__}"
    parser = argparse.ArgumentParser(prog=prog, description=module.HELP)
    module.add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return int(module.run(args) or 0)
    except ToolError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code


def upsert_pr_comment(
    client: RestClient, pr: int, body: str, bot_login: str | None = "github-actions[bot]"
) -> tuple[str, Any]:
    """Edit our PR comment if there is one, else post it. Returns (action, comment)."""
    action, comment_id = plan_pr_comment(client.pr_comments(pr), bot_login)
    if action == "update":
        return action, client.update_comment(comment_id, body)
    return action, client.create_comment(pr, body)
