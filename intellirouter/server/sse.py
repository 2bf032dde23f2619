"""Reading an OpenAI server-sent-event stream as it passes through: the reply text and usage."""

from __future__ import annotations

import orjson

__all__ = ["DeltaCollector"]


class DeltaCollector:
    """Feed raw stream bytes; collects content deltas, counts them, keeps a final ``usage``."""

    __slots__ = ("_buf", "parts", "deltas", "usage", "done")

    def __init__(self) -> None:
        self._buf = b""
        self.parts: list[str] = []
        self.deltas = 0
        self.usage: dict | None = None
        self.done = False

    def feed(self, chunk: bytes) -> None:
        data = self._buf + chunk
        lines = data.split(b"\n")
        self._buf = lines.pop()  # an incomplete last line waits for the next chunk
        for line in lines:
            if line.startswith(b"data:"):
                self._event(line[5:].strip())

    def _event(self, data: bytes) -> None:
        if data == b"[DONE]":
            self.done = True
            return
        try:
            event = orjson.loads(data)
        except orjson.JSONDecodeError:
            return
        if not isinstance(event, dict):
            return
        if isinstance(event.get("usage"), dict):
            self.usage = event["usage"]
        for choice in event.get("choices") or ():
            content = (choice.get("delta") or {}).get("content") if isinstance(choice, dict) else None
            if isinstance(content, str) and content:
                self.parts.append(content)
                self.deltas += 1

    @property
    def text(self) -> str:
        return "".join(self.parts)
