"""Model registry: model metadata, filters, and an indexed, thread-safe store.

Models are immutable values (frozen dataclasses); changing one means storing a new value
with ``update`` / ``update_status``. That keeps the secondary indexes honest: nobody can
change a stored model's provider behind the registry's back.

Complexity (n models, k results, c candidates in the smallest applicable index bucket):
``get`` / ``register`` / ``remove`` / ``update`` / ``update_status`` O(1);
``find_by_provider`` / ``find_by_type`` / ``find_available`` O(k);
``find_models`` O(c) when the filter names a provider, type or status, else O(n).
"""

from __future__ import annotations

import enum
import functools
import math
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from types import MappingProxyType
from typing import Any

from intellirouter.errors import DuplicateModelError, InvalidModelError, ModelNotFoundError

__all__ = [
    "ModelType",
    "ModelStatus",
    "PerformanceMetrics",
    "ModelCapabilities",
    "ModelMetadata",
    "ModelFilter",
    "ModelRegistry",
    "validate_model",
    "version_key",
]


class ModelType(enum.StrEnum):
    TEXT_GENERATION = "text_generation"
    CHAT = "chat"
    EMBEDDING = "embedding"
    IMAGE_GENERATION = "image_generation"
    AUDIO_PROCESSING = "audio_processing"
    MULTIMODAL = "multimodal"
    OTHER = "other"


class ModelStatus(enum.StrEnum):
    AVAILABLE = "available"
    UNAVAILABLE = "unavailable"
    LIMITED = "limited"
    MAINTENANCE = "maintenance"
    DEPRECATED = "deprecated"
    UNKNOWN = "unknown"


@functools.lru_cache(maxsize=1024)
def _lowered(values: frozenset[str]) -> frozenset[str]:
    return frozenset(v.lower() for v in values)


def _frozen_strs(values: Iterable[str] | None, *, lower: bool = False) -> frozenset[str]:
    if values is None:
        return frozenset()
    if type(values) is frozenset:  # the common case (defaults, copies): no per-item work
        return _lowered(values) if lower else values
    if isinstance(values, str):  # a lone string is one value, not its characters
        values = (values,)
    return frozenset(v.lower() if lower else v for v in values)


@dataclass(frozen=True, slots=True)
class PerformanceMetrics:
    """Measured serving performance; ``None`` means not known."""

    avg_latency_ms: float | None = None
    p95_latency_ms: float | None = None
    p99_latency_ms: float | None = None
    tokens_per_second: float | None = None

    @property
    def known_latency_ms(self) -> float | None:
        """The best latency figure we have: average, else p95, else p99."""
        for value in (self.avg_latency_ms, self.p95_latency_ms, self.p99_latency_ms):
            if value is not None:
                return value
        return None


@dataclass(frozen=True, slots=True)
class ModelCapabilities:
    max_context_length: int = 4096
    max_tokens_to_generate: int = 2048
    supports_function_calling: bool = False
    supports_vision: bool = False
    supports_streaming: bool = False
    supports_embeddings: bool = False
    cost_per_1k_tokens_input: float | None = None  # USD; None = not priced
    cost_per_1k_tokens_output: float | None = None
    supported_languages: frozenset[str] = frozenset({"en"})
    feature_flags: frozenset[str] = frozenset()  # capability tags: "code", "creative", ...
    performance: PerformanceMetrics = field(default_factory=PerformanceMetrics)
    input_formats: frozenset[str] = frozenset({"text"})
    output_formats: frozenset[str] = frozenset({"text"})

    def __post_init__(self) -> None:
        # Accept any iterable from callers; store hashable, case-normalised sets.
        set_ = object.__setattr__
        set_(self, "supported_languages", _frozen_strs(self.supported_languages, lower=True))
        set_(self, "feature_flags", _frozen_strs(self.feature_flags))
        set_(self, "input_formats", _frozen_strs(self.input_formats, lower=True))
        set_(self, "output_formats", _frozen_strs(self.output_formats, lower=True))


@dataclass(frozen=True, slots=True)
class ModelMetadata:
    id: str
    name: str
    provider: str
    version: str
    endpoint: str
    model_type: ModelType = ModelType.CHAT
    capabilities: ModelCapabilities = field(default_factory=ModelCapabilities)
    status: ModelStatus = ModelStatus.AVAILABLE
    additional_metadata: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        # Accept "chat" for ModelType.CHAT; an unknown value is left for validate_model to report.
        for name, enum_cls in (("model_type", ModelType), ("status", ModelStatus)):
            value = getattr(self, name)
            if isinstance(value, str) and not isinstance(value, enum_cls) and value in enum_cls._value2member_map_:
                set_(self, name, enum_cls(value))
        # A read-only copy: the caller's dict can change without touching the stored model.
        set_(self, "additional_metadata", MappingProxyType(dict(self.additional_metadata)))

    def __reduce__(self):
        # mappingproxy does not pickle; rebuild from a plain dict (models cross processes).
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values["additional_metadata"] = dict(self.additional_metadata)
        return (type(self), tuple(values.values()))

    def with_status(self, status: ModelStatus) -> ModelMetadata:
        return replace(self, status=ModelStatus(status))


# ---- validation ------------------------------------------------------------------------


def _is_nonneg_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= 0


def _is_positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


_PERF_FIELDS = tuple(f.name for f in fields(PerformanceMetrics))


def validate_model(model: Any) -> list[str]:
    """Every problem with ``model`` (empty when it may be registered)."""
    if not isinstance(model, ModelMetadata):
        return [f"expected ModelMetadata, got {type(model).__name__}"]
    problems = []
    for name in ("id", "name", "provider", "endpoint", "version"):
        value = getattr(model, name)
        if not isinstance(value, str) or not value.strip():
            problems.append(f"{name} must be a non-empty string (got {value!r})")
    if not isinstance(model.model_type, ModelType):
        problems.append(f"model_type must be a ModelType (got {model.model_type!r})")
    if not isinstance(model.status, ModelStatus):
        problems.append(f"status must be a ModelStatus (got {model.status!r})")
    caps = model.capabilities
    if not isinstance(caps, ModelCapabilities):
        problems.append(f"capabilities must be ModelCapabilities (got {type(caps).__name__})")
        return problems
    for name in ("max_context_length", "max_tokens_to_generate"):
        value = getattr(caps, name)
        if not _is_positive_int(value):
            problems.append(f"{name} must be a positive integer (got {value!r})")
    for name in ("cost_per_1k_tokens_input", "cost_per_1k_tokens_output"):
        value = getattr(caps, name)
        if value is not None and not _is_nonneg_number(value):
            problems.append(f"{name} must be a non-negative number or None (got {value!r})")
    perf = caps.performance
    if not isinstance(perf, PerformanceMetrics):
        problems.append(f"performance must be PerformanceMetrics (got {type(perf).__name__})")
    else:
        for name in _PERF_FIELDS:
            value = getattr(perf, name)
            if value is not None and not _is_nonneg_number(value):
                problems.append(f"performance.{name} must be a non-negative number or None (got {value!r})")
    return problems


def _check(model: Any) -> ModelMetadata:
    problems = validate_model(model)
    if problems:
        ident = getattr(model, "id", None)
        raise InvalidModelError(f"invalid model {ident!r}: " + "; ".join(problems))
    return model


_VERSION_PART = re.compile(r"\d+|[A-Za-z]+")


@functools.lru_cache(maxsize=4096)
def version_key(version: str) -> tuple:
    """Sort key for version strings: numeric parts compare as numbers ("1.10" > "1.9").

    Numbers sort before words at the same position, so "2.0" < "2.0rc" is *not* assumed
    to mean a pre-release; it is a plain, total, documented order.
    """
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p.lower()) for p in _VERSION_PART.findall(version))


# ---- filter ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ModelFilter:
    """Every criterion that is set must hold; ``None`` / empty means "don't care"."""

    provider: str | None = None
    model_type: ModelType | None = None
    status: ModelStatus | None = None
    min_context_length: int | None = None
    supports_function_calling: bool | None = None
    supports_vision: bool | None = None
    supports_streaming: bool | None = None
    supports_embeddings: bool | None = None
    language: str | None = None
    input_format: str | None = None
    output_format: str | None = None
    min_version: str | None = None
    max_cost_per_1k_tokens_input: float | None = None  # unpriced models fail a cost ceiling
    max_cost_per_1k_tokens_output: float | None = None
    max_latency_ms: float | None = None  # applies where latency is known; unknown passes
    required_features: frozenset[str] = frozenset()
    additional_filters: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        if self.model_type is not None:
            set_(self, "model_type", ModelType(self.model_type))
        if self.status is not None:
            set_(self, "status", ModelStatus(self.status))
        set_(self, "required_features", _frozen_strs(self.required_features))
        set_(self, "additional_filters", MappingProxyType(dict(self.additional_filters)))

    def criteria(self) -> list[tuple[str, str, Callable[[ModelMetadata], bool]]]:
        """The set criteria as (field, description, predicate), in a fixed order."""
        return [
            *self._identity_criteria(),
            *self._capability_criteria(),
            *self._format_criteria(),
            *self._limit_criteria(),
            *self._metadata_criteria(),
        ]

    def _identity_criteria(self) -> list[tuple[str, str, Callable[[ModelMetadata], bool]]]:
        """provider, model_type, status: the indexed fields."""
        out = []
        if self.provider is not None:
            p = self.provider
            out.append(("provider", f"provider={p!r}", lambda m: m.provider == p))
        if self.model_type is not None:
            t = self.model_type
            out.append(("model_type", f"model_type={t.value!r}", lambda m: m.model_type is t))
        if self.status is not None:
            s = self.status
            out.append(("status", f"status={s.value!r}", lambda m: m.status is s))
        return out

    def _capability_criteria(self) -> list[tuple[str, str, Callable[[ModelMetadata], bool]]]:
        """Context length and the supports_* flags."""
        out = []
        if self.min_context_length is not None:
            n = self.min_context_length
            out.append(
                ("min_context_length", f"min_context_length={n}", lambda m: m.capabilities.max_context_length >= n)
            )
        for flag in ("supports_function_calling", "supports_vision", "supports_streaming", "supports_embeddings"):
            want = getattr(self, flag)
            if want is not None:
                out.append((flag, f"{flag}={want}", lambda m, f=flag, w=bool(want): getattr(m.capabilities, f) is w))
        return out

    def _format_criteria(self) -> list[tuple[str, str, Callable[[ModelMetadata], bool]]]:
        """Language, input and output formats (compared lower-case), minimum version."""
        out = []
        if self.language is not None:
            lang = self.language.lower()
            out.append(("language", f"language={lang!r}", lambda m: lang in m.capabilities.supported_languages))
        if self.input_format is not None:
            fmt_in = self.input_format.lower()
            out.append(("input_format", f"input_format={fmt_in!r}", lambda m: fmt_in in m.capabilities.input_formats))
        if self.output_format is not None:
            fmt_out = self.output_format.lower()
            out.append(
                ("output_format", f"output_format={fmt_out!r}", lambda m: fmt_out in m.capabilities.output_formats)
            )
        if self.min_version is not None:
            floor = version_key(self.min_version)
            out.append(("min_version", f"min_version={self.min_version!r}", lambda m: version_key(m.version) >= floor))
        return out

    def _limit_criteria(self) -> list[tuple[str, str, Callable[[ModelMetadata], bool]]]:
        """Price ceilings (an unpriced model fails them) and the latency ceiling (unknown passes)."""
        out = []
        if (ci := self.max_cost_per_1k_tokens_input) is not None:
            priced = lambda m: (c := m.capabilities.cost_per_1k_tokens_input) is not None and c <= ci  # noqa: E731
            out.append(("max_cost_per_1k_tokens_input", f"max_cost_per_1k_tokens_input={ci}", priced))
        if (co := self.max_cost_per_1k_tokens_output) is not None:
            priced = lambda m: (c := m.capabilities.cost_per_1k_tokens_output) is not None and c <= co  # noqa: E731
            out.append(("max_cost_per_1k_tokens_output", f"max_cost_per_1k_tokens_output={co}", priced))
        if (lim := self.max_latency_ms) is not None:
            fast = lambda m: (lat := m.capabilities.performance.known_latency_ms) is None or lat <= lim  # noqa: E731
            out.append(("max_latency_ms", f"max_latency_ms={lim}", fast))
        return out

    def _metadata_criteria(self) -> list[tuple[str, str, Callable[[ModelMetadata], bool]]]:
        """Required feature flags and exact matches on additional metadata."""
        out = []
        if self.required_features:
            need = self.required_features
            out.append(
                (
                    "required_features",
                    f"required_features={sorted(need)}",
                    lambda m: need <= m.capabilities.feature_flags,
                )
            )
        if self.additional_filters:
            items = tuple(self.additional_filters.items())
            missing = object()
            out.append(
                (
                    "additional_filters",
                    f"additional_filters={dict(items)!r}",
                    lambda m: all(m.additional_metadata.get(k, missing) == v for k, v in items),
                )
            )
        return out

    def predicate(self) -> Callable[[ModelMetadata], bool]:
        """One callable that is true when every set criterion holds."""
        checks = [pred for _, _, pred in self.criteria()]
        if not checks:
            return lambda m: True
        if len(checks) == 1:
            return checks[0]
        return lambda m: all(c(m) for c in checks)

    def matches(self, model: ModelMetadata) -> bool:
        return self.predicate()(model)

    def describe(self) -> str:
        return ", ".join(desc for _, desc, _ in self.criteria()) or "no criteria"


# ---- registry --------------------------------------------------------------------------


class _Bucket:
    """Ids sharing one index value, in registration order.

    A model that moves in (status or provider changed) may be older than the bucket's
    newest member; the bucket then notes that it is out of order and re-sorts itself on
    the next read, so reads stay O(k) amortised instead of sorting on every call.
    """

    __slots__ = ("ids", "last_seq", "dirty")

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}
        self.last_seq = -1
        self.dirty = False

    def add(self, model_id: str, seq: int) -> None:
        self.ids[model_id] = seq
        if seq < self.last_seq:
            self.dirty = True
        else:
            self.last_seq = seq

    def ordered(self) -> dict[str, int]:
        if self.dirty:
            self.ids = dict(sorted(self.ids.items(), key=lambda kv: kv[1]))
            self.dirty = False
        return self.ids


class _Index:
    """value -> _Bucket for one attribute of the model."""

    __slots__ = ("key", "buckets")

    def __init__(self, key: Callable[[ModelMetadata], Any]) -> None:
        self.key = key
        self.buckets: dict[Any, _Bucket] = {}

    def add(self, model: ModelMetadata, seq: int) -> None:
        value = self.key(model)
        bucket = self.buckets.get(value)
        if bucket is None:
            bucket = self.buckets[value] = _Bucket()
        bucket.add(model.id, seq)

    def discard(self, model: ModelMetadata) -> None:
        value = self.key(model)
        bucket = self.buckets[value]
        del bucket.ids[model.id]
        if not bucket.ids:
            del self.buckets[value]

    def size(self, value: Any) -> int:
        bucket = self.buckets.get(value)
        return len(bucket.ids) if bucket else 0

    def ids(self, value: Any) -> dict[str, int]:
        bucket = self.buckets.get(value)
        return bucket.ordered() if bucket else {}


_INDEXED = {
    "provider": lambda m: m.provider,
    "model_type": lambda m: m.model_type,
    "status": lambda m: m.status,
}


class ModelRegistry:
    """Thread-safe store of ModelMetadata by id, with provider/type/status indexes.

    Every mutation validates first and changes nothing when it raises. Results are lists
    in registration order (``update`` keeps a model's place; remove + register moves it
    to the end).
    """

    def __init__(self, models: Iterable[ModelMetadata] = ()) -> None:
        self._lock = threading.RLock()
        self._models: dict[str, ModelMetadata] = {}
        self._seq: dict[str, int] = {}
        self._next_seq = 0
        self._indexes = {name: _Index(key) for name, key in _INDEXED.items()}
        models = list(models)
        if models:
            self.register_many(models)

    # -- internal (caller holds the lock) --
    def _insert(self, model: ModelMetadata) -> None:
        seq = self._next_seq
        self._next_seq += 1
        self._models[model.id] = model
        self._seq[model.id] = seq
        for index in self._indexes.values():
            index.add(model, seq)

    def _replace(self, old: ModelMetadata, new: ModelMetadata) -> None:
        seq = self._seq[old.id]
        self._models[new.id] = new  # same key: keeps its place in the dict
        for index in self._indexes.values():
            if index.key(old) != index.key(new):
                index.discard(old)
                index.add(new, seq)

    def _get(self, model_id: str) -> ModelMetadata:
        try:
            return self._models[model_id]
        except (KeyError, TypeError):
            raise ModelNotFoundError(f"model {model_id!r} is not registered") from None

    def _ordered(self, ids: Iterable[str]) -> list[ModelMetadata]:
        models = self._models
        return [models[i] for i in ids]

    # -- mutations --
    def register(self, model: ModelMetadata) -> ModelMetadata:
        _check(model)
        with self._lock:
            if model.id in self._models:
                raise DuplicateModelError(f"model {model.id!r} is already registered")
            self._insert(model)
        return model

    def register_many(self, models: Iterable[ModelMetadata]) -> int:
        """Register all or nothing: every model is checked before any is stored."""
        models = list(models)
        for model in models:
            _check(model)
        with self._lock:
            seen: set[str] = set()
            for model in models:
                if model.id in self._models or model.id in seen:
                    raise DuplicateModelError(f"model {model.id!r} is already registered")
                seen.add(model.id)
            for model in models:
                self._insert(model)
        return len(models)

    def update(self, model: ModelMetadata) -> ModelMetadata:
        """Replace the stored model that has ``model.id``; it keeps its position."""
        _check(model)
        with self._lock:
            self._replace(self._get(model.id), model)
        return model

    def update_status(self, model_id: str, status: ModelStatus) -> ModelMetadata:
        try:
            status = ModelStatus(status)
        except ValueError:
            raise InvalidModelError(f"invalid status {status!r} for model {model_id!r}") from None
        with self._lock:
            old = self._get(model_id)
            new = old.with_status(status)
            self._replace(old, new)
        return new

    def remove(self, model_id: str) -> ModelMetadata:
        with self._lock:
            model = self._get(model_id)
            for index in self._indexes.values():
                index.discard(model)
            del self._models[model_id]
            del self._seq[model_id]
        return model

    def clear(self) -> None:
        with self._lock:
            self._models.clear()
            self._seq.clear()
            for index in self._indexes.values():
                index.buckets.clear()

    # -- queries --
    def get(self, model_id: str) -> ModelMetadata:
        # No lock: one dict lookup is atomic under the GIL, and stored models are immutable.
        return self._get(model_id)

    def __contains__(self, model_id: object) -> bool:
        return model_id in self._models

    def __len__(self) -> int:
        return len(self._models)

    def count(self) -> int:
        return len(self._models)

    def list(self) -> list[ModelMetadata]:
        with self._lock:
            return list(self._models.values())

    def find_by_provider(self, provider: str) -> list[ModelMetadata]:
        with self._lock:
            return self._ordered(self._indexes["provider"].ids(provider))

    def find_by_type(self, model_type: ModelType) -> list[ModelMetadata]:
        with self._lock:
            return self._ordered(self._indexes["model_type"].ids(model_type))

    def find_available(self) -> list[ModelMetadata]:
        with self._lock:
            return self._ordered(self._indexes["status"].ids(ModelStatus.AVAILABLE))

    def find_models(self, model_filter: ModelFilter | None = None) -> list[ModelMetadata]:
        """Models matching every set criterion, in registration order.

        Starts from the smallest index bucket among the filter's provider / type / status
        (an empty bucket answers at once) and checks the remaining criteria only there.
        """
        if model_filter is None:
            return self.list()
        indexed = [
            (name, value)
            for name, value in (
                ("provider", model_filter.provider),
                ("model_type", model_filter.model_type),
                ("status", model_filter.status),
            )
            if value is not None
        ]
        # Indexed criteria that drive the candidate set need no re-check; the rest do.
        rest = [pred for name, _, pred in model_filter.criteria() if name not in _INDEXED]
        with self._lock:
            if indexed:
                sizes = [(self._indexes[name].size(value), name, value) for name, value in indexed]
                sizes.sort(key=lambda t: t[0])
                if sizes[0][0] == 0:
                    return []
                _, name, value = sizes[0]
                candidates = self._ordered(self._indexes[name].ids(value))
                for _, other, other_value in sizes[1:]:
                    member = self._indexes[other].ids(other_value)
                    candidates = [m for m in candidates if m.id in member]
            else:
                candidates = list(self._models.values())
        # One list comprehension per criterion: cheaper than all(...) over a generator per model.
        for pred in rest:
            candidates = [m for m in candidates if pred(m)]
            if not candidates:
                break
        return candidates

    def snapshot(self, statuses: Iterable[ModelStatus] | None = None) -> ModelRegistry:
        """A consistent copy (optionally only models with these statuses), indexes included.

        Models are immutable, so the copy shares them; cost O(n) with no re-validation.
        """
        wanted = None if statuses is None else {ModelStatus(s) for s in statuses}
        copy = ModelRegistry()
        with self._lock:
            for model in self._models.values():
                if wanted is None or model.status in wanted:
                    copy._insert(model)
        return copy
