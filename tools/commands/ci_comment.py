"""``python -m tools ci-comment``: the pull request's one benchmark comment, edited on each push.

Two halves, so PR code never runs with a write token: the benchmark job (read-only) writes the
body with ``--no-post --body-out``; a separate job running trusted code posts it with
``--body-file`` (``python -m tools.commands.ci_comment``, standard library only).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from tools import github
from tools.commands.ci_issue import read_reports, run_url_from_env
from tools.io import atomic_write_text

NAME = "ci-comment"
HELP = (
    "post the regression report as the PR's single benchmark comment (updated in place on each "
    "push) and/or add it to the job summary; a read-only token (fork PR) only prints a notice"
)


def add_arguments(parser) -> None:
    parser.add_argument("--report", type=Path, help="regression report JSON (default: the newest one)")
    parser.add_argument("--report-md", type=Path, help="its Markdown twin (default: the JSON's path with .md)")
    parser.add_argument("--body-file", type=Path, help="post this prepared comment body instead of building one")
    parser.add_argument("--pr", type=int, help="pull request number (default: from GITHUB_EVENT_PATH)")
    parser.add_argument("--summary", action="store_true", help="append the comment to $GITHUB_STEP_SUMMARY")
    parser.add_argument("--body-out", type=Path, help="also write the comment body to this file")
    parser.add_argument("--no-post", action="store_true", help="do not call GitHub (summary/body-out only)")


def pr_number_from_event(env=os.environ) -> int | None:
    path = env.get("GITHUB_EVENT_PATH")
    if not path:
        return None
    try:
        event = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    number = (event.get("pull_request") or {}).get("number") or event.get("number")
    return int(number) if number else None


def build_body(args) -> str:
    if args.body_file:
        try:
            body = args.body_file.read_text(encoding="utf-8")
        except OSError as exc:
            raise github.ToolError(f"{args.body_file}: cannot read comment body ({exc.strerror})") from exc
        if github.PR_COMMENT_MARKER not in body:
            # Without the marker the next push could not find (and update) this comment.
            body = github.PR_COMMENT_MARKER + "\n" + body
        return github.truncate(body, github.MAX_BODY_CHARS, "_(truncated)_")
    report, report_md = read_reports(args.report, args.report_md)
    return github.pr_comment_body(
        report_md,
        base=github.commit_of(report.get("base")) or "?",
        head=github.commit_of(report.get("head")) or "?",
        failed=bool(github.regressions_by_commit(report)),
        run_url=run_url_from_env(),
        counts=report.get("counts") if isinstance(report.get("counts"), dict) else None,
    )


def run(args) -> int:
    body = build_body(args)
    if args.body_out:
        atomic_write_text(args.body_out, body)
    if args.summary:
        summary = os.environ.get("GITHUB_STEP_SUMMARY")
        if not summary:
            raise github.ToolError("--summary: GITHUB_STEP_SUMMARY is not set")
        with open(summary, "a", encoding="utf-8") as fh:  # GitHub's file: append, by contract
            fh.write(body + "\n")
    if args.no_post:
        return 0
    pr = args.pr or pr_number_from_event()
    if not pr:
        raise github.ToolError("no pull request number: pass --pr or run on a pull_request event")
    client = github.RestClient.from_env()
    try:
        action, comment = github.upsert_pr_comment(client, pr, body)
    except github.GitHubError as exc:
        if exc.status in (403, 404):
            # A fork's PR gets a read-only token: the report is still in the job summary.
            print(
                f"::notice title=PR comment skipped::{exc} (read-only token, e.g. a fork PR); "
                "the report is in the benchmark job's summary"
            )
            return 0
        raise
    print(f"PR #{pr}: comment {'updated' if action == 'update' else 'posted'}: {(comment or {}).get('html_url', '')}")
    return 0


if __name__ == "__main__":
    sys.exit(github.standalone_main(sys.modules[__name__]))
