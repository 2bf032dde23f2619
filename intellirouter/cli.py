"""``intellirouter``: ``serve`` (the gateway) and ``mock-llm`` (the mock model backend).

Bad input is one line on stderr and exit 2; never a traceback.
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["main", "build_parser"]


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 < value < 65536:
        raise argparse.ArgumentTypeError(f"port must be 1-65535, got {value}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _server_arguments(p: argparse.ArgumentParser, port: int) -> None:
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    p.add_argument("--port", type=_port, default=port, help=f"port (default: {port})")
    p.add_argument("--workers", type=_positive_int, default=1, help="worker processes (default: 1)")
    p.add_argument("--log-level", default="warning", choices=["critical", "error", "warning", "info", "debug"])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="intellirouter", description="IntelliRouter gateway and mock model backend.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    serve = sub.add_parser(
        "serve", help="run the OpenAI-compatible gateway", description="Run the OpenAI-compatible gateway."
    )
    serve.add_argument("--config", required=True, help="router.yaml (see docs/gateway.md)")
    _server_arguments(serve, 8000)
    serve.add_argument(
        "--graceful-timeout",
        type=float,
        default=30.0,
        metavar="S",
        help="seconds to drain in-flight requests on shutdown",
    )
    mock = sub.add_parser(
        "mock-llm", help="run the seeded OpenAI-compatible mock backend", description="Run the mock model backend."
    )
    _server_arguments(mock, 9000)
    mock.add_argument("--latency", choices=["fixed", "lognormal"], default="fixed", help="latency distribution")
    mock.add_argument("--latency-ms", type=float, default=50.0, help="fixed latency, or the lognormal median (ms)")
    mock.add_argument("--sigma", type=float, default=0.25, help="lognormal shape")
    mock.add_argument("--seed", type=int, default=0)
    mock.add_argument(
        "--completion-tokens", type=_positive_int, default=32, help="tokens per answer (fewer if max_tokens asks)"
    )
    mock.add_argument("--tokens-per-chunk", type=_positive_int, default=1, help="tokens per streamed chunk")
    mock.add_argument("--chunk-interval-ms", type=float, default=5.0, help="time between streamed chunks")
    mock.add_argument("--error-rate", type=float, default=0.0, help="share of requests answered with 500")
    mock.add_argument("--timeout-rate", type=float, default=0.0, help="share of requests that hang for --hang-s")
    mock.add_argument("--hang-s", type=float, default=120.0, help="how long a 'timeout' request hangs")
    return parser


def _run(args: argparse.Namespace) -> None:
    from intellirouter.server import run

    if args.command == "serve":
        run.serve_gateway(args.config, args.host, args.port, args.workers, args.log_level, args.graceful_timeout)
        return
    from intellirouter.server.mock import MockOptions

    options = MockOptions(
        latency=args.latency,
        latency_ms=args.latency_ms,
        sigma=args.sigma,
        seed=args.seed,
        completion_tokens=args.completion_tokens,
        tokens_per_chunk=args.tokens_per_chunk,
        chunk_interval_ms=args.chunk_interval_ms,
        error_rate=args.error_rate,
        timeout_rate=args.timeout_rate,
        hang_s=args.hang_s,
    )
    run.serve_mock(options, args.host, args.port, args.workers, args.log_level)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        from intellirouter.server.config import ConfigError
        from intellirouter.server.run import StartError
    except ImportError as exc:
        print(
            f"error: the server extra is not installed ({exc.name}): pip install 'intellirouter[server]'",
            file=sys.stderr,
        )
        return 2
    try:
        _run(args)
    except (ConfigError, StartError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
