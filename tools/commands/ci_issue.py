"""``python -m tools ci-issue``: open one GitHub issue per regressing commit (CI, never twice).

Also runnable as ``python -m tools.commands.ci_issue`` (standard library only).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from tools import github

NAME = "ci-issue"
HELP = (
    "open one issue per commit the regression report says regressed (labels performance, "
    "regression, automated), skipping commits that already have one; uses GITHUB_TOKEN"
)
DEFAULT_REPORTS = Path("metrics/performance/reports")


def add_arguments(parser) -> None:
    parser.add_argument("--report", type=Path, help=f"regression report JSON (default: newest in {DEFAULT_REPORTS})")
    parser.add_argument("--report-md", type=Path, help="its Markdown twin (default: the JSON's path with .md)")
    parser.add_argument("--site-url", help="published asv site, for graph links (e.g. the Pages URL)")
    parser.add_argument("--run-url", help="link to the workflow run (default: from GITHUB_* variables)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--dry-run", action="store_true", help="print the issues that would be opened; no GitHub calls")
    mode.add_argument(
        "--check",
        action="store_true",
        help="only print regressed=true|false (also appended to $GITHUB_OUTPUT when set); no GitHub calls",
    )


def repo_url_from_env(env=os.environ) -> str | None:
    if env.get("GITHUB_REPOSITORY"):
        return f"{env.get('GITHUB_SERVER_URL', 'https://github.com')}/{env['GITHUB_REPOSITORY']}"
    return None


def run_url_from_env(env=os.environ) -> str | None:
    if env.get("GITHUB_RUN_ID") and env.get("GITHUB_REPOSITORY"):
        return f"{repo_url_from_env(env)}/actions/runs/{env['GITHUB_RUN_ID']}"
    return None


def read_reports(json_path: Path | None, md_path: Path | None, need_md: bool = True) -> tuple[dict, str]:
    """The regression report (JSON) and its Markdown twin; the newest pair by default."""
    json_path = json_path or github.latest_report(DEFAULT_REPORTS, ".json")
    report = github.load_report(json_path)
    if not need_md:
        return report, ""
    md_path = md_path or json_path.with_suffix(".md")
    try:
        return report, md_path.read_text(encoding="utf-8")
    except OSError as exc:
        raise github.ToolError(f"{md_path}: cannot read the Markdown report ({exc.strerror})") from exc


def check(report_path: Path | None) -> int:
    """Print ``regressed=true|false`` (and append it to $GITHUB_OUTPUT) for the workflow."""
    if report_path is None and not list(DEFAULT_REPORTS.glob("regression_report_*.json")):
        # The first run on a machine has nothing to compare with: no report, nothing regressed.
        print(f"no regression report in {DEFAULT_REPORTS} (first run?): nothing to check", file=sys.stderr)
        regressed = False
    else:
        report, _ = read_reports(report_path, None, need_md=False)
        regressed = bool(github.regressions_by_commit(report))
    line = f"regressed={'true' if regressed else 'false'}"
    print(line)
    if os.environ.get("GITHUB_OUTPUT"):
        with open(os.environ["GITHUB_OUTPUT"], "a", encoding="utf-8") as fh:  # GitHub's file: append
            fh.write(line + "\n")
    return 0


def run(args) -> int:
    if args.check:
        return check(args.report)
    report, report_md = read_reports(args.report, args.report_md)
    by_commit = github.regressions_by_commit(report)
    run_url = args.run_url or run_url_from_env()
    if args.dry_run:
        if not by_commit:
            print("no regression in the report: no issue to open")
        for commit, rows in by_commit.items():
            print(f"=== would open unless one exists: {github.issue_title(commit)}")
            print(
                github.issue_body(
                    commit,
                    rows,
                    report_md,
                    base=github.commit_of(report.get("base")),
                    repo_url=repo_url_from_env(),
                    site_url=args.site_url,
                    run_url=run_url,
                )
            )
        return 0
    github.open_regression_issues(
        github.RestClient.from_env(),
        report,
        report_md,
        site_url=args.site_url,
        run_url=run_url,
        repo_url=repo_url_from_env(),
    )
    return 0


if __name__ == "__main__":
    sys.exit(github.standalone_main(sys.modules[__name__]))
