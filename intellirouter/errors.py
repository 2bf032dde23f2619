"""One exception hierarchy for IntelliRouter.

Every error a caller can provoke with bad input derives from ``IntelliRouterError``
so an embedding application can catch the whole family in one place, and the
specific subclasses say which rule was broken.
"""

from __future__ import annotations


class IntelliRouterError(Exception):
    """Base class of every IntelliRouter error."""


# --- model registry ---------------------------------------------------------------
class ModelNotFoundError(IntelliRouterError, KeyError):
    """A model id is not in the registry."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else "model not found"


class DuplicateModelError(IntelliRouterError):
    """A model with this id is already registered."""


class InvalidModelError(IntelliRouterError, ValueError):
    """Model metadata failed validation."""


# --- router -------------------------------------------------------------------------
class NoSuitableModelError(IntelliRouterError):
    """No model satisfies the request; the message names the constraint that emptied the list."""


class RoutingError(IntelliRouterError):
    """Routing failed for another reason (bad configuration, every fallback failed)."""


# --- chain engine --------------------------------------------------------------------
class ChainValidationError(IntelliRouterError, ValueError):
    """A chain is invalid; ``problems`` lists every problem found, each with its step id."""

    def __init__(self, problems):
        self.problems = list(problems)
        head = "; ".join(str(p) for p in self.problems[:5])
        more = f" (+{len(self.problems) - 5} more)" if len(self.problems) > 5 else ""
        super().__init__(f"invalid chain: {head}{more}")


class ChainExecutionError(IntelliRouterError):
    """A step failed while a chain was executing."""


# --- memory ---------------------------------------------------------------------------
class ConversationNotFoundError(IntelliRouterError, KeyError):
    """A conversation id is not known to the memory backend."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "conversation not found"


class InvalidTimeRangeError(IntelliRouterError, ValueError):
    """A time range is malformed (start after end, wrong types)."""


class NonMonotonicTimestampError(IntelliRouterError, ValueError):
    """A supplied timestamp is earlier than the conversation's last entry."""


class DuplicateConversationError(IntelliRouterError):
    """A conversation with this id already exists."""


class InvalidMessageError(IntelliRouterError, ValueError):
    """A message or conversation setting is invalid (empty role, non-str content, window < 1)."""


# --- RAG -----------------------------------------------------------------------------
class SourceNotFoundError(IntelliRouterError, KeyError):
    """A RAG source name is not known."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "source not found"


class InvalidSourceError(IntelliRouterError, ValueError):
    """A RAG source or chunking setting is invalid (empty text, overlap >= size, duplicate name)."""


class InvalidQueryError(IntelliRouterError, ValueError):
    """A retrieval or fusion argument is invalid (non-str query, max_chunks < 1, max_chars < 0)."""
