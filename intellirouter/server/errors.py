"""Gateway errors as values: an HTTP status plus an OpenAI-shaped body.

OpenAI's error body is ``{"error": {"message", "type", "param", "code"}}``; clients such as
the official ``openai`` package turn it into typed exceptions by status. Handlers return an
:class:`ApiError` (or raise it where unwinding is simpler); the app renders it. A message
never carries internals: an unexpected exception becomes a generic 500.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

__all__ = ["ApiError", "bad_request", "not_found", "internal_error"]

# OpenAI's "type" for each status we produce
_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    404: "invalid_request_error",
    405: "invalid_request_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
    500: "server_error",
    502: "upstream_error",
    503: "service_unavailable",
    504: "timeout_error",
}


@dataclass(frozen=True)
class ApiError(Exception):
    status: int
    message: str
    code: str | None = None
    param: str | None = None

    @property
    def type(self) -> str:
        return _TYPES.get(self.status, "server_error" if self.status >= 500 else "invalid_request_error")

    def body(self) -> bytes:
        err = {"message": self.message, "type": self.type, "param": self.param, "code": self.code}
        return orjson.dumps({"error": err})


def bad_request(message: str, param: str | None = None, code: str = "invalid_request") -> ApiError:
    return ApiError(400, message, code, param)


def not_found(message: str, code: str = "not_found", param: str | None = None) -> ApiError:
    return ApiError(404, message, code, param)


def internal_error() -> ApiError:
    return ApiError(500, "internal server error; the gateway log has the details", "internal_error")
