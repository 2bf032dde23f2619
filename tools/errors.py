"""Errors the tools report to people: one line, no traceback, non-zero exit."""


class ToolError(Exception):
    """Expected bad input or state (missing results dir, corrupt file, unknown revision).

    ``python -m tools`` prints ``error: <message>`` and exits with ``exit_code``.
    """

    exit_code = 2

    def __init__(self, message: str, exit_code: int | None = None):
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code
