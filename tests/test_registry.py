"""Model registry: every operation, validation, error paths leaving state unchanged, and
find_models against an independent brute-force predicate (hypothesis)."""

from __future__ import annotations

import dataclasses
import pickle
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from intellirouter.errors import DuplicateModelError, IntelliRouterError, InvalidModelError, ModelNotFoundError
from intellirouter.registry import (
    ModelCapabilities,
    ModelFilter,
    ModelMetadata,
    ModelRegistry,
    ModelStatus,
    ModelType,
    PerformanceMetrics,
    validate_model,
    version_key,
)


def mk(
    model_id="m1",
    provider="openai",
    model_type=ModelType.CHAT,
    status=ModelStatus.AVAILABLE,
    version="1.0",
    meta=None,
    **caps,
):
    perf = caps.pop("performance", PerformanceMetrics())
    return ModelMetadata(
        id=model_id,
        name=f"name-{model_id}",
        provider=provider,
        version=version,
        endpoint=f"https://example.test/{model_id}",
        model_type=model_type,
        capabilities=ModelCapabilities(performance=perf, **caps),
        status=status,
        additional_metadata=meta or {},
    )


def state(reg: ModelRegistry):
    """Everything observable about a registry, to prove an error changed nothing."""
    return (
        [m for m in reg.list()],
        {p: [m.id for m in reg.find_by_provider(p)] for p in ("openai", "anthropic", "local")},
        {t: [m.id for m in reg.find_by_type(t)] for t in ModelType},
        {s: [m.id for m in reg.find_models(ModelFilter(status=s))] for s in ModelStatus},
    )


@pytest.fixture
def reg():
    r = ModelRegistry()
    r.register(mk("a", "openai", ModelType.CHAT))
    r.register(mk("b", "anthropic", ModelType.TEXT_GENERATION))
    r.register(mk("c", "openai", ModelType.EMBEDDING, ModelStatus.MAINTENANCE))
    return r


# ---- basic operations -------------------------------------------------------------------


def test_register_get_list_count_contains(reg):
    assert reg.count() == len(reg) == 3
    assert [m.id for m in reg.list()] == ["a", "b", "c"]
    assert reg.get("b").provider == "anthropic"
    assert "a" in reg and "zz" not in reg


def test_find_by_provider_type_available(reg):
    assert [m.id for m in reg.find_by_provider("openai")] == ["a", "c"]
    assert reg.find_by_provider("nobody") == []
    assert [m.id for m in reg.find_by_type(ModelType.EMBEDDING)] == ["c"]
    assert [m.id for m in reg.find_available()] == ["a", "b"]


def test_update_keeps_position_and_moves_indexes(reg):
    reg.update(mk("a", "local", ModelType.EMBEDDING))
    assert [m.id for m in reg.list()] == ["a", "b", "c"]
    assert reg.get("a").provider == "local"
    assert [m.id for m in reg.find_by_provider("openai")] == ["c"]
    assert [m.id for m in reg.find_by_provider("local")] == ["a"]
    # "a" moved into the embedding bucket after "c" but is still returned first (registration order)
    assert [m.id for m in reg.find_by_type(ModelType.EMBEDDING)] == ["a", "c"]


def test_update_status_moves_between_status_indexes_in_registration_order(reg):
    new = reg.update_status("a", ModelStatus.LIMITED)
    assert new.status is ModelStatus.LIMITED and reg.get("a") is new
    assert [m.id for m in reg.find_available()] == ["b"]
    reg.update_status("c", "available")  # strings are accepted
    reg.update_status("a", ModelStatus.AVAILABLE)
    assert [m.id for m in reg.find_available()] == ["a", "b", "c"]


def test_remove_and_reregister_goes_to_the_end(reg):
    removed = reg.remove("a")
    assert removed.id == "a" and "a" not in reg and reg.count() == 2
    assert [m.id for m in reg.find_by_provider("openai")] == ["c"]
    reg.register(mk("a"))
    assert [m.id for m in reg.list()] == ["b", "c", "a"]
    assert [m.id for m in reg.find_available()] == ["b", "a"]


def test_clear(reg):
    reg.clear()
    assert reg.count() == 0 and reg.list() == [] and reg.find_by_provider("openai") == []
    assert reg.find_models(ModelFilter(status=ModelStatus.AVAILABLE)) == []
    reg.register(mk("x"))
    assert [m.id for m in reg.find_available()] == ["x"]


def test_register_many_and_constructor():
    r = ModelRegistry([mk("a"), mk("b")])
    assert r.register_many([mk("c"), mk("d")]) == 2
    assert [m.id for m in r.list()] == ["a", "b", "c", "d"]


def test_snapshot_filters_status_and_is_independent(reg):
    snap = reg.snapshot([ModelStatus.AVAILABLE])
    assert [m.id for m in snap.list()] == ["a", "b"]
    assert [m.id for m in snap.find_by_provider("openai")] == ["a"]
    reg.remove("a")
    assert "a" in snap  # the copy does not follow later changes
    assert [m.id for m in reg.snapshot().list()] == ["b", "c"]


def test_models_are_immutable_and_copy_metadata():
    extra = {"tier": "free"}
    m = mk("a", meta=extra)
    extra["tier"] = "paid"
    assert m.additional_metadata["tier"] == "free"
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.provider = "x"
    with pytest.raises(TypeError):
        m.additional_metadata["tier"] = "x"


def test_models_pickle_round_trip():
    m = mk("a", meta={"tier": "free"}, feature_flags={"code"}, performance=PerformanceMetrics(avg_latency_ms=5))
    copy = pickle.loads(pickle.dumps(m))
    assert copy == m and copy.additional_metadata["tier"] == "free"
    with pytest.raises(TypeError):
        copy.additional_metadata["tier"] = "x"


def test_enum_strings_are_coerced_and_sets_normalised():
    m = mk("a", model_type="embedding", status="limited", supported_languages=["EN", "De"], input_formats="JSON")
    assert m.model_type is ModelType.EMBEDDING and m.status is ModelStatus.LIMITED
    assert m.capabilities.supported_languages == {"en", "de"}
    assert m.capabilities.input_formats == {"json"}


# ---- validation and error paths ---------------------------------------------------------

INVALID = [
    (dict(model_id=""), "id must be a non-empty string"),
    (dict(model_id="   "), "id must be a non-empty string"),
    (dict(provider=""), "provider must be a non-empty string"),
    (dict(version=""), "version must be a non-empty string"),
    (dict(max_context_length=0), "max_context_length must be a positive integer"),
    (dict(max_tokens_to_generate=-5), "max_tokens_to_generate must be a positive integer"),
    (dict(max_context_length=True), "max_context_length must be a positive integer"),
    (dict(cost_per_1k_tokens_input=-0.1), "cost_per_1k_tokens_input must be a non-negative number"),
    (dict(cost_per_1k_tokens_output=float("nan")), "cost_per_1k_tokens_output must be a non-negative number"),
    (dict(performance=PerformanceMetrics(avg_latency_ms=-1)), "performance.avg_latency_ms"),
    (dict(model_type="no-such-type"), "model_type must be a ModelType"),
    (dict(status="gone"), "status must be a ModelStatus"),
]


@pytest.mark.parametrize("kwargs, message", INVALID)
def test_register_rejects_invalid_models_and_changes_nothing(reg, kwargs, message):
    before = state(reg)
    bad = mk(**{"model_id": "new", **kwargs})
    with pytest.raises(InvalidModelError, match=message):
        reg.register(bad)
    assert state(reg) == before


def test_empty_name_and_endpoint_are_invalid():
    m = ModelMetadata(id="x", name="", provider="p", version="1", endpoint=" ")
    problems = validate_model(m)
    assert any("name" in p for p in problems) and any("endpoint" in p for p in problems)
    assert validate_model("not a model") == ["expected ModelMetadata, got str"]


def test_all_problems_are_reported_at_once():
    bad = mk(model_id="x", provider="", version="", max_context_length=0)
    with pytest.raises(InvalidModelError) as exc:
        ModelRegistry().register(bad)
    text = str(exc.value)
    assert "provider" in text and "version" in text and "max_context_length" in text and "'x'" in text


def test_duplicate_register_changes_nothing(reg):
    before = state(reg)
    with pytest.raises(DuplicateModelError, match="'a' is already registered"):
        reg.register(mk("a", "local"))
    assert state(reg) == before and reg.get("a").provider == "openai"


def test_register_many_is_all_or_nothing(reg):
    before = state(reg)
    with pytest.raises(DuplicateModelError):
        reg.register_many([mk("n1"), mk("n2"), mk("n1")])  # duplicate inside the batch
    with pytest.raises(DuplicateModelError):
        reg.register_many([mk("n1"), mk("b")])  # duplicate of a stored one
    with pytest.raises(InvalidModelError):
        reg.register_many([mk("n1"), mk("n2", provider="")])
    assert state(reg) == before


def test_missing_ids_raise_not_found_and_change_nothing(reg):
    before = state(reg)
    for call in (
        lambda: reg.get("zz"),
        lambda: reg.remove("zz"),
        lambda: reg.update(mk("zz")),
        lambda: reg.update_status("zz", ModelStatus.LIMITED),
    ):
        with pytest.raises(ModelNotFoundError, match="'zz' is not registered") as exc:
            call()
        assert isinstance(exc.value, KeyError) and isinstance(exc.value, IntelliRouterError)
    assert state(reg) == before


def test_invalid_update_and_status_change_nothing(reg):
    before = state(reg)
    with pytest.raises(InvalidModelError):
        reg.update(mk("a", provider=""))
    with pytest.raises(InvalidModelError, match="invalid status 'bogus'"):
        reg.update_status("a", "bogus")
    assert state(reg) == before


def test_unhashable_id_is_not_found():
    with pytest.raises(ModelNotFoundError):
        ModelRegistry().get(["a"])


# ---- filters ------------------------------------------------------------------------------


def filter_cases():
    """(filter, ids expected) over the ``zoo`` registry below."""
    return [
        (ModelFilter(), ["z1", "z2", "z3", "z4"]),
        (ModelFilter(provider="openai"), ["z1", "z3"]),
        (ModelFilter(model_type=ModelType.EMBEDDING), ["z4"]),
        (ModelFilter(status=ModelStatus.DEPRECATED), ["z3"]),
        (ModelFilter(min_context_length=8192), ["z2", "z3"]),
        (ModelFilter(supports_function_calling=True), ["z1", "z2"]),
        (ModelFilter(supports_function_calling=False), ["z3", "z4"]),
        (ModelFilter(supports_vision=True), ["z2"]),
        (ModelFilter(supports_streaming=True), ["z1"]),
        (ModelFilter(supports_embeddings=True), ["z4"]),
        (ModelFilter(language="DE"), ["z2"]),
        (ModelFilter(input_format="image"), ["z2"]),
        (ModelFilter(output_format="json"), ["z3"]),
        (ModelFilter(min_version="1.10"), ["z2", "z4"]),
        (ModelFilter(max_cost_per_1k_tokens_input=0.01), ["z1"]),  # unpriced z3, z4 fail
        (ModelFilter(max_cost_per_1k_tokens_output=0.05), ["z1", "z2"]),
        (ModelFilter(max_latency_ms=300), ["z1", "z3", "z4"]),  # z4 unknown latency passes; z3 via p95
        (ModelFilter(required_features={"code", "creative"}), ["z2"]),
        (ModelFilter(required_features=["code"]), ["z1", "z2"]),
        (ModelFilter(additional_filters={"tier": "free"}), ["z1", "z4"]),
        (ModelFilter(additional_filters={"missing": None}), []),
        (ModelFilter(provider="openai", supports_function_calling=True, min_context_length=4096), ["z1"]),
        (ModelFilter(provider="openai", model_type=ModelType.EMBEDDING), []),
        (ModelFilter(provider="nobody"), []),
    ]


@pytest.fixture
def zoo():
    r = ModelRegistry()
    r.register(
        mk("z1", "openai", version="1.9", supports_function_calling=True, supports_streaming=True,
           cost_per_1k_tokens_input=0.005, cost_per_1k_tokens_output=0.01, feature_flags={"code"},
           performance=PerformanceMetrics(avg_latency_ms=200), meta={"tier": "free"})
    )  # fmt: skip
    r.register(
        mk("z2", "anthropic", version="1.10", max_context_length=200000, supports_function_calling=True,
           supports_vision=True, supported_languages={"en", "de"}, input_formats={"text", "image"},
           cost_per_1k_tokens_input=0.02, cost_per_1k_tokens_output=0.05, feature_flags={"code", "creative"},
           performance=PerformanceMetrics(avg_latency_ms=900))
    )  # fmt: skip
    r.register(
        mk("z3", "openai", status=ModelStatus.DEPRECATED, version="0.5", max_context_length=8192,
           output_formats={"text", "json"}, performance=PerformanceMetrics(p95_latency_ms=250))
    )  # fmt: skip
    r.register(mk("z4", "local", ModelType.EMBEDDING, version="2", supports_embeddings=True, meta={"tier": "free"}))
    return r


@pytest.mark.parametrize("flt, expected", filter_cases())
def test_find_models_each_criterion(zoo, flt, expected):
    assert [m.id for m in zoo.find_models(flt)] == expected
    assert [m.id for m in zoo.list() if flt.matches(m)] == expected


def test_find_models_none_is_list(zoo):
    assert zoo.find_models(None) == zoo.list()


def test_filter_describe_names_each_criterion():
    text = ModelFilter(provider="p", min_context_length=10, required_features={"code"}).describe()
    assert text == "provider='p', min_context_length=10, required_features=['code']"
    assert ModelFilter().describe() == "no criteria"


@pytest.mark.parametrize(
    "low, high",
    [("1.9", "1.10"), ("1", "1.0.1"), ("2.0", "10.0"), ("v1", "v2"), ("2024-01-05", "2024-11-01")],
)
def test_version_key_orders_numerically(low, high):
    assert version_key(low) < version_key(high)


# ---- threads ------------------------------------------------------------------------------


def test_concurrent_mutations_keep_indexes_consistent():
    r = ModelRegistry()
    statuses = list(ModelStatus)

    def worker(t):
        for i in range(200):
            mid = f"t{t}-{i}"
            r.register(mk(mid, provider=f"p{i % 3}"))
            r.update_status(mid, statuses[i % len(statuses)])
            if i % 5 == 0:
                r.remove(mid)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert r.count() == 4 * 160
    for p in ("p0", "p1", "p2"):
        for s in statuses:
            flt = ModelFilter(provider=p, status=s)
            assert r.find_models(flt) == [m for m in r.list() if m.provider == p and m.status is s]


# ---- property: find_models == brute force -------------------------------------------------


def brute_force(models, f: ModelFilter):
    """An independent reading of the filter rules, model by model."""
    out = []
    for m in models:
        c = m.capabilities
        lat = c.performance.avg_latency_ms
        if lat is None:
            lat = (
                c.performance.p95_latency_ms
                if c.performance.p95_latency_ms is not None
                else c.performance.p99_latency_ms
            )
        ok = (
            (f.provider is None or m.provider == f.provider)
            and (f.model_type is None or m.model_type == f.model_type)
            and (f.status is None or m.status == f.status)
            and (f.min_context_length is None or c.max_context_length >= f.min_context_length)
            and (f.supports_function_calling is None or c.supports_function_calling == f.supports_function_calling)
            and (f.supports_vision is None or c.supports_vision == f.supports_vision)
            and (f.supports_streaming is None or c.supports_streaming == f.supports_streaming)
            and (f.supports_embeddings is None or c.supports_embeddings == f.supports_embeddings)
            and (f.input_format is None or f.input_format.lower() in c.input_formats)
            and (f.output_format is None or f.output_format.lower() in c.output_formats)
            and (f.language is None or f.language.lower() in c.supported_languages)
            and (f.min_version is None or version_key(m.version) >= version_key(f.min_version))
            and (f.max_cost_per_1k_tokens_input is None
                 or (c.cost_per_1k_tokens_input is not None and c.cost_per_1k_tokens_input <= f.max_cost_per_1k_tokens_input))
            and (f.max_cost_per_1k_tokens_output is None
                 or (c.cost_per_1k_tokens_output is not None and c.cost_per_1k_tokens_output <= f.max_cost_per_1k_tokens_output))
            and (f.max_latency_ms is None or lat is None or lat <= f.max_latency_ms)
            and set(f.required_features) <= set(c.feature_flags)
            and all(k in m.additional_metadata and m.additional_metadata[k] == v for k, v in f.additional_filters.items())
        )  # fmt: skip
        if ok:
            out.append(m)
    return out


PROVIDERS = ["openai", "anthropic", "local"]
maybe = lambda s: st.none() | s  # noqa: E731

model_st = st.builds(
    lambda i, provider, mtype, status, ctx, fc, vis, stream, langs, cost, lat, p95, flags, ver, tier, emb, fmts: mk(
        f"m{i}", provider, mtype, status, version=ver, max_context_length=ctx, supports_function_calling=fc,
        supports_vision=vis, supports_streaming=stream, supported_languages=langs, cost_per_1k_tokens_input=cost,
        cost_per_1k_tokens_output=None if cost is None else cost * 3, feature_flags=flags,
        performance=PerformanceMetrics(avg_latency_ms=lat, p95_latency_ms=p95), meta={"tier": tier},
        supports_embeddings=emb, input_formats=fmts, output_formats=fmts,
    ),
    st.integers(0, 15), st.sampled_from(PROVIDERS), st.sampled_from(list(ModelType)), st.sampled_from(list(ModelStatus)),
    st.sampled_from([2048, 4096, 8192, 32768]), st.booleans(), st.booleans(), st.booleans(),
    st.sets(st.sampled_from(["en", "de", "fr"]), max_size=3), maybe(st.sampled_from([0.001, 0.01, 0.03])),
    maybe(st.sampled_from([50.0, 300.0, 900.0])), maybe(st.sampled_from([100.0, 600.0])),
    st.sets(st.sampled_from(["code", "creative", "technical"]), max_size=3), st.sampled_from(["0.9", "1.2", "1.10", "2"]),
    st.sampled_from(["free", "paid"]), st.booleans(), st.sets(st.sampled_from(["text", "image", "json"]), max_size=2),
)  # fmt: skip

filter_st = st.builds(
    ModelFilter,
    provider=maybe(st.sampled_from(PROVIDERS + ["nobody"])), model_type=maybe(st.sampled_from(list(ModelType))),
    status=maybe(st.sampled_from(list(ModelStatus))), min_context_length=maybe(st.sampled_from([1000, 4096, 10000])),
    supports_function_calling=maybe(st.booleans()), supports_vision=maybe(st.booleans()),
    supports_streaming=maybe(st.booleans()), supports_embeddings=maybe(st.booleans()),
    language=maybe(st.sampled_from(["en", "DE", "ja"])), input_format=maybe(st.sampled_from(["text", "IMAGE"])),
    output_format=maybe(st.sampled_from(["json", "text"])), max_cost_per_1k_tokens_output=maybe(st.sampled_from([0.01, 0.05])),
    min_version=maybe(st.sampled_from(["1.2", "1.9"])), max_cost_per_1k_tokens_input=maybe(st.sampled_from([0.005, 0.02])),
    max_latency_ms=maybe(st.sampled_from([100.0, 500.0])),
    required_features=st.sets(st.sampled_from(["code", "creative"]), max_size=2),
    additional_filters=st.dictionaries(st.just("tier"), st.sampled_from(["free", "paid"]), max_size=1),
)  # fmt: skip

op_st = st.one_of(
    st.tuples(st.just("register"), model_st),
    st.tuples(st.just("update"), model_st),
    st.tuples(st.just("status"), st.integers(0, 15), st.sampled_from(list(ModelStatus))),
    st.tuples(st.just("remove"), st.integers(0, 15)),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(op_st, max_size=40), filters=st.lists(filter_st, min_size=1, max_size=4))
def test_find_models_equals_brute_force_after_any_mutations(ops, filters):
    reg = ModelRegistry()
    for op in ops:
        try:
            if op[0] == "register":
                reg.register(op[1])
            elif op[0] == "update":
                reg.update(op[1])
            elif op[0] == "status":
                reg.update_status(f"m{op[1]}", op[2])
            else:
                reg.remove(f"m{op[1]}")
        except (DuplicateModelError, ModelNotFoundError):
            pass
    models = reg.list()
    for f in filters:
        assert reg.find_models(f) == brute_force(models, f)
    for p in PROVIDERS:
        assert reg.find_by_provider(p) == [m for m in models if m.provider == p]
    assert reg.find_available() == [m for m in models if m.status is ModelStatus.AVAILABLE]
