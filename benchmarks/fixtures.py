"""Seeded workload builders shared by every benchmark module.

Every workload in the suite comes from here, built from ``rng(seed)`` so that two runs,
two commits and two machines measure exactly the same inputs. Builders import
``intellirouter`` lazily: a benchmark for a feature an older commit lacks raises
``NotImplementedError`` in ``setup`` (asv then skips it) instead of breaking discovery.
"""

from __future__ import annotations

import random

SEED = 20261126


def rng(salt: int | str = 0) -> random.Random:
    """A deterministic generator; ``salt`` separates independent workloads."""
    return random.Random(f"{SEED}:{salt}")


def require(module: str, *names: str):
    """Import ``names`` from ``module`` or raise NotImplementedError (asv skips the benchmark).

    Used in ``setup`` so the current benchmark code can run against older library commits.
    """
    import importlib

    try:
        mod = importlib.import_module(module)
    except ImportError as exc:  # the component does not exist at this commit
        raise NotImplementedError(f"{module} is not available at this commit: {exc}") from exc
    missing = [n for n in names if not hasattr(mod, n)]
    if missing:
        raise NotImplementedError(f"{module} lacks {', '.join(missing)} at this commit")
    values = [getattr(mod, n) for n in names]
    return values[0] if len(values) == 1 else tuple(values)


# ---- model registry and router workloads (owned by the registry/router author) ----

import functools  # noqa: E402  (kept inside this section: the header belongs to everyone)

# Provider shares are fixed by position (not drawn), so a provider filter has an exact,
# size-independent selectivity: "major" 50 %, "mid" 10 %, each "minor-NN" 1 %.
SELECTIVITY_PROVIDERS = {"1%": "provider-minor-00", "10%": "provider-mid", "50%": "provider-major"}
_MODEL_TAGS = ("code", "technical", "reasoning", "creative", "writing", "json_mode")
ROUTING_PROMPTS = (
    "Please debug this python function, it raises an exception when the regex compiles",
    "Write a short story about a lighthouse keeper, with a poem as the ending",
    "Explain the algorithm complexity of this database index and its latency under load",
    "Refactor this javascript class and add a unittest for the api method",
    "Imagine a fantasy character and write dialogue for the plot twist",
    "Analyze the network protocol security and derive the throughput equation",
)


def _provider_for(i: int) -> str:
    slot = (i * 37) % 100  # a permutation of each block of 100: small registries mix providers too
    if slot < 50:
        return "provider-major"
    if slot < 60:
        return "provider-mid"
    return f"provider-minor-{slot - 60:02d}"


def make_models(n: int, salt: str = "models") -> list:
    """``n`` seeded, valid ModelMetadata with realistic spreads of type, status, price and latency.

    One 64-bit draw per model, sliced into fields, keeps 10k models at ~0.2 s (setup runs
    in every asv process).
    """
    registry = require(
        "intellirouter.registry",
        "ModelMetadata", "ModelCapabilities", "PerformanceMetrics", "ModelType", "ModelStatus",
    )  # fmt: skip
    ModelMetadata, ModelCapabilities, PerformanceMetrics, ModelType, ModelStatus = registry
    r = rng(f"{salt}:{n}")
    types = [ModelType.CHAT] * 6 + [ModelType.TEXT_GENERATION] * 2 + [ModelType.EMBEDDING, ModelType.MULTIMODAL]
    statuses = [ModelStatus.AVAILABLE] * 17 + [ModelStatus.LIMITED, ModelStatus.MAINTENANCE, ModelStatus.DEPRECATED]
    languages = [frozenset(c) for c in (("en",), ("en", "de"), ("en", "fr", "es"), ("ja", "zh"), ("en", "de", "fr", "ja"))]
    tags = [frozenset()] + [frozenset({t}) for t in _MODEL_TAGS] + [
        frozenset(c) for c in (("code", "technical"), ("creative", "writing"), ("code", "reasoning", "json_mode"))
    ]
    contexts, outputs = (4096, 8192, 32768, 128000), (1024, 2048, 4096)
    tiers, regions = ("free", "standard", "premium"), ("us", "eu")
    models = []
    no_perf = PerformanceMetrics()
    for i in range(n):
        bits = r.getrandbits(64)  # successive bit fields of one draw feed the fields below
        priced = bits % 10 != 0  # 90 %
        timed = (bits >> 4) % 10 != 0
        if timed:
            avg = 80.0 + ((bits >> 8) & 0x7FF) * 0.94  # 80..2005 ms
            perf = PerformanceMetrics(avg, avg * 1.8, avg * 2.5, 20.0 + ((bits >> 12) & 0xFF) * 0.7)
        else:
            perf = no_perf
        caps = ModelCapabilities(
            max_context_length=contexts[(bits >> 20) & 3],
            max_tokens_to_generate=outputs[((bits >> 22) & 3) % 3],
            supports_function_calling=bool((bits >> 24) & 1),
            supports_vision=(bits >> 25) % 5 == 0,
            supports_streaming=(bits >> 28) % 5 != 0,
            supports_embeddings=(bits >> 31) % 10 == 0,
            cost_per_1k_tokens_input=0.0001 + ((bits >> 35) & 0x3FF) * 2.9e-5 if priced else None,
            cost_per_1k_tokens_output=0.0002 + ((bits >> 45) & 0x3FF) * 5.8e-5 if priced else None,
            supported_languages=languages[(bits >> 55) % 5],
            feature_flags=tags[(bits >> 58) % len(tags)],
            performance=perf,
        )
        extra = r.getrandbits(32)
        models.append(
            ModelMetadata(
                id=f"model-{i:06d}",
                name=f"Model {i}",
                provider=_provider_for(i),
                version=f"{1 + extra % 4}.{(extra >> 2) % 13}",
                endpoint=f"https://api.example.com/v1/models/{i}",
                model_type=types[(extra >> 8) % 10],
                capabilities=caps,
                status=statuses[(extra >> 12) % 20],
                additional_metadata={"tier": tiers[(extra >> 17) % 3], "region": regions[(extra >> 20) & 1]},
            )
        )
    r.shuffle(models)  # registration order unrelated to provider slots
    return models


def make_registry(n: int, salt: str = "models"):
    ModelRegistry = require("intellirouter.registry", "ModelRegistry")
    registry = ModelRegistry()
    registry.register_many(shared_models(n, salt))
    return registry


# asv re-runs ``setup`` before every sample of a benchmark that has one (asv_runner:
# setup isolates timed calls); these per-process memos keep that cheap. Models are
# immutable, so sharing them is safe; a shared registry is for read-only benchmarks.
@functools.cache
def shared_models(n: int, salt: str = "models") -> tuple:
    return tuple(make_models(n, salt))


@functools.cache
def shared_registry(n: int, salt: str = "models"):
    return make_registry(n, salt)


@functools.cache
def shared_router(n: int, strategy: str = "round_robin"):
    """A router over ``shared_registry(n)``; its counters advance, as a live router's do."""
    return make_router(shared_registry(n), strategy)


def make_routing_requests(count: int, salt: str = "requests", **fields) -> list:
    """``count`` seeded RoutingRequests over ROUTING_PROMPTS; ``fields`` go to every request."""
    RoutingRequest = require("intellirouter.router", "RoutingRequest")
    r = rng(salt)
    requests = []
    for _ in range(count):
        prompt = r.choice(ROUTING_PROMPTS)
        messages = [{"role": "system", "content": "You are helpful."}, {"role": "user", "content": prompt}]
        requests.append(RoutingRequest(messages=messages, **fields))
    return requests


def make_mixed_requests(count: int, salt: str = "mixed") -> list:
    """Requests that differ in what they demand: answer length, tools, streaming, language."""
    RoutingRequest = require("intellirouter.router", "RoutingRequest")
    ModelFilter = require("intellirouter.registry", "ModelFilter")
    r = rng(salt)
    requests = []
    for i in range(count):
        prompt = r.choice(ROUTING_PROMPTS) * r.randint(1, 40)  # ~20 to ~800 input tokens
        requests.append(
            RoutingRequest(
                messages=[{"role": "user", "content": prompt}],
                max_tokens=r.choice((64, 256, 1024)),
                tools=[{"name": "search"}] if i % 3 == 0 else (),
                stream=i % 4 == 0,
                model_filter=ModelFilter(language="de") if i % 5 == 0 else None,
            )
        )
    return requests


def complex_model_filter():
    """provider + function calling + minimum context: a filter with several criteria at once."""
    ModelFilter = require("intellirouter.registry", "ModelFilter")
    return ModelFilter(provider="provider-major", supports_function_calling=True, min_context_length=32768)


def make_router(registry, strategy: str = "round_robin", **config):
    """A Router over ``registry``; weighted round-robin gets seeded weights 1..5 per model."""
    Router, RouterConfig = require("intellirouter.router", "Router", "RouterConfig")
    if strategy == "weighted_round_robin":
        r = rng("weights")
        config.setdefault("weights", {m.id: r.randint(1, 5) for m in registry.list()})
        strategy = "round_robin"
    if strategy == "priority":
        config.setdefault("provider_priorities", {"provider-mid": 1, "provider-major": 2})
    return Router(RouterConfig(strategy=strategy, **config), registry)


def routing_objective(model, strategy: str, input_tokens: int, output_tokens: int) -> float | None:
    """What ``strategy`` minimises for one model, computed here from the model's public data: the
    estimated request cost (cost_optimized) or the best known latency (latency_optimized: the
    average, else p95, else p99); None when the model has no such figure."""
    caps = model.capabilities
    if strategy == "cost_optimized":
        cin, cout = caps.cost_per_1k_tokens_input, caps.cost_per_1k_tokens_output
        return None if cin is None or cout is None else input_tokens * cin + output_tokens * cout
    if strategy == "latency_optimized":
        return caps.performance.known_latency_ms
    raise ValueError(f"no known-best objective for strategy {strategy!r}")


def _eligible(model, request, input_tokens: int, statuses) -> bool:
    """What the request demands of a model, as the router documents it (status, filter, context,
    answer length, streaming, tools), checked without the router."""
    caps = model.capabilities
    flt = request.model_filter
    return (
        model.status in statuses
        and (flt is None or flt.matches(model))
        and caps.max_context_length >= input_tokens + (request.max_tokens or 0)
        and (request.max_tokens is None or caps.max_tokens_to_generate >= request.max_tokens)
        and (not request.stream or caps.supports_streaming)
        and (not request.tools or caps.supports_function_calling)
    )


def routing_quality_cases(registry, strategy: str, count: int, salt: str = "route-quality") -> list[tuple]:
    """(request, input tokens, output tokens, best objective) for seeded mixed requests, the best
    found by brute force over every eligible model of ``registry``: the known-best assignment a
    router with ``strategy`` should reproduce. Requests no model can serve are left out."""
    RouterConfig, estimate_tokens = require("intellirouter.router", "RouterConfig", "estimate_tokens")
    config = RouterConfig()
    if not all(hasattr(config, a) for a in ("routable_statuses", "expected_output_tokens", "tokens_per_message")):
        raise NotImplementedError("RouterConfig lacks the settings the known-best assignment needs at this commit")
    models = registry.list()
    cases = []
    for request in make_mixed_requests(count, salt):
        tin = estimate_tokens(request.messages, config.chars_per_token, config.tokens_per_message)
        tout = request.max_tokens if request.max_tokens is not None else config.expected_output_tokens
        scores = [routing_objective(m, strategy, tin, tout) for m in models
                  if _eligible(m, request, tin, config.routable_statuses)]
        scores = [v for v in scores if v is not None]
        if scores:
            cases.append((request, tin, tout, min(scores)))
    return cases

# ---- chain engine workloads (owned by the chain author) ----

# Chains are described as plain data (``chain_spec``) and turned into Step objects by
# ``build_chain``, so chain creation can be timed apart from drawing the random prompts.
CHAIN_SIZES = [5, 500, 5_000]
CHAIN_SHAPES = ["linear", "fan_out_in", "parallel"]
CHAIN_PARALLEL_WIDTH = 10  # branches per parallel group
CHAIN_INPUTS = {"topic": "routing requests across model providers"}
_CHAIN_VOCAB = ("summarise", "compare", "route", "latency", "cost", "provider", "context",
                "answer", "draft", "refine", "evidence", "policy", "tokens", "budget",
                "model", "fallback", "review", "plan", "risk", "quality")


def _chain_prompt(r: random.Random, *refs: str) -> str:
    words = " ".join(r.choice(_CHAIN_VOCAB) for _ in range(8))
    return words + ": " + " ".join("{{" + ref + "}}" for ref in refs)


def chain_spec(shape: str, n_steps: int) -> list[dict]:
    """Plain-data steps; ``n_steps`` counts every step, parallel branches included.

    linear      s0 <- s1 <- ... each prompt carries the previous output
    fan_out_in  root -> n-2 workers -> join (an ``all`` dependency reading every worker)
    parallel    a sequence of parallel groups of CHAIN_PARALLEL_WIDTH model calls each
    mixed       ceil(n/10) blocks of 10 top-level steps using every step and dependency kind
    """
    r = rng(f"chain:{shape}:{n_steps}")
    if shape == "linear":
        return [{"kind": "llm", "id": f"s{i}", "prompt": _chain_prompt(r, f"s{i - 1}" if i else "topic"),
                 "depends_on": [f"s{i - 1}"] if i else []} for i in range(n_steps)]
    if shape == "fan_out_in":
        workers = [f"w{i}" for i in range(max(n_steps - 2, 1))]
        return ([{"kind": "llm", "id": "root", "prompt": _chain_prompt(r, "topic"), "depends_on": []}]
                + [{"kind": "llm", "id": w, "prompt": _chain_prompt(r, "root"), "depends_on": ["root"]}
                   for w in workers]
                + [{"kind": "llm", "id": "join", "prompt": _chain_prompt(r, *workers),
                    "depends_on": [("all", workers)]}])
    if shape == "parallel":
        steps, prev, done, g = [], None, 0, 0
        while done < n_steps:
            width = min(CHAIN_PARALLEL_WIDTH, n_steps - done)
            ref = f"{prev}.{prev}_b0" if prev else "topic"
            branches = [{"kind": "llm", "id": f"g{g}_b{b}", "prompt": _chain_prompt(r, ref), "depends_on": []}
                        for b in range(width)]
            steps.append({"kind": "parallel", "id": f"g{g}", "branches": branches,
                          "depends_on": [prev] if prev else []})
            prev, done, g = f"g{g}", done + width, g + 1
        return steps
    if shape == "mixed":
        steps, prev = [], None
        for k in range((n_steps + 9) // 10):
            p = f"b{k}_"
            steps += [
                {"kind": "function", "id": p + "fetch", "function": "lookup",
                 "args": {"query": "{{" + (prev or "topic") + "}}"}, "depends_on": [prev] if prev else []},
                {"kind": "llm", "id": p + "sum", "prompt": _chain_prompt(r, p + "fetch"), "depends_on": [p + "fetch"]},
                {"kind": "function", "id": p + "score", "function": "score",
                 "args": {"text": "{{" + p + "sum}}"}, "depends_on": [p + "sum"]},
                {"kind": "conditional", "id": p + "gate", "condition": ("{{" + p + "score}}", "ge", 5),
                 "then": [p + "tool"], "else": [p + "alt"], "depends_on": [p + "score"]},
                {"kind": "tool", "id": p + "tool", "tool": "search", "args": {"query": "{{" + p + "sum}}"}},
                {"kind": "llm", "id": p + "alt", "prompt": _chain_prompt(r, p + "sum")},
                {"kind": "llm", "id": p + "join", "prompt": _chain_prompt(r, p + "tool", p + "alt"),
                 "depends_on": [("any", [p + "tool", p + "alt"])]},
                {"kind": "parallel", "id": p + "par", "depends_on": [p + "join"], "branches": [
                    {"kind": "llm", "id": p + "pa", "prompt": _chain_prompt(r, p + "join"), "depends_on": []},
                    {"kind": "llm", "id": p + "pb", "prompt": _chain_prompt(r, p + "join"), "depends_on": []}]},
                {"kind": "loop", "id": p + "loop", "max_iterations": 3, "depends_on": [p + "par"],
                 "break": ("{{loop.output}}", "contains", "final"),
                 "body": {"kind": "llm", "id": p + "lb", "prompt": _chain_prompt(r, p + "par." + p + "pa", "loop.previous"),
                          "depends_on": []}},
                {"kind": "llm", "id": p + "out", "prompt": _chain_prompt(r, p + "loop"),
                 "depends_on": [("cond", p + "loop", ("{{" + p + "score}}", "ge", 0))]},
            ]
            prev = p + "out"
        return steps
    raise ValueError(f"unknown chain shape {shape!r}")


def build_chain(spec: list[dict], chain_id: str = "bench"):
    """Step objects from ``chain_spec`` data (iterative over the top level; nesting is 1 deep)."""
    c = require("intellirouter.chain", "Chain", "LLMStep", "FunctionStep", "ToolStep", "ConditionalStep",
                "ParallelStep", "LoopStep", "Dependency", "Condition", "Variable")
    Chain, LLMStep, FunctionStep, ToolStep, ConditionalStep, ParallelStep, LoopStep, Dependency, Condition, Variable = c

    def dep(d):
        if isinstance(d, str):
            return d
        if d[0] == "all":
            return Dependency.all(*d[1])
        if d[0] == "any":
            return Dependency.any(*d[1])
        return Dependency.conditional(d[1], Condition(*d[2]))

    def step(d):
        kind, sid, deps = d["kind"], d["id"], [dep(x) for x in d.get("depends_on", ())]
        if kind == "llm":
            return LLMStep(sid, prompt=d["prompt"], depends_on=deps, max_tokens=24)
        if kind == "function":
            return FunctionStep(sid, function=d["function"], args=d["args"], depends_on=deps)
        if kind == "tool":
            return ToolStep(sid, tool=d["tool"], args=d["args"], depends_on=deps)
        if kind == "conditional":
            return ConditionalStep(sid, condition=Condition(*d["condition"]), then_steps=d["then"],
                                   else_steps=d["else"], depends_on=deps)
        if kind == "parallel":
            return ParallelStep(sid, branches=[step(b) for b in d["branches"]], depends_on=deps)
        if kind == "loop":
            return LoopStep(sid, body=step(d["body"]), max_iterations=d["max_iterations"],
                            break_condition=Condition(*d["break"]), depends_on=deps)
        raise ValueError(f"unknown step kind {kind!r}")

    return Chain(chain_id, [step(d) for d in spec], [Variable("topic", required=True)])


def make_chain(shape: str, n_steps: int):
    return build_chain(chain_spec(shape, n_steps), f"{shape}-{n_steps}")


def _chain_callables():
    functions = {"lookup": lambda query: f"notes on {query[:40]}",
                 "score": lambda text: sum(map(ord, text[:16])) % 10}
    tools = {"search": lambda query, k=3: [f"{query[:20]} #{i}" for i in range(k)]}
    return functions, tools


def make_chain_registries():
    """The function and tool registries of the ``mixed`` chain, without an engine: the
    instruction-count child builds only what validation needs. CallableRegistry comes from
    ``intellirouter.chain``: the package now, a lazy re-export of the old chain.py module
    at older commits (from the commit that gave the registries their own module)."""
    CallableRegistry = require("intellirouter.chain", "CallableRegistry")
    registries = (CallableRegistry("function"), CallableRegistry("tool"))
    for registry, callables in zip(registries, _chain_callables()):
        for name, fn in callables.items():
            registry.register(name, fn)
    return registries


def make_chain_engine(shape: str = "linear"):
    """The engine with the deterministic local model; for ``parallel`` the model answers
    asynchronously (as a network client would), so branches really run as asyncio tasks."""
    ChainEngine, LocalConnector = require("intellirouter.chain", "ChainEngine", "LocalConnector")
    engine = ChainEngine(LocalConnector(asynchronous=shape == "parallel"))
    functions, tools = _chain_callables()
    for name, fn in functions.items():
        engine.register_function(name, fn)
    for name, fn in tools.items():
        engine.register_tool(name, fn)
    return engine


# ---- memory workloads (owned by the memory/RAG author) ----

MEMORY_T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z: replayed timestamps start here
MEMORY_WINDOW = 50
MEMORY_RANGE_K = 100  # entries a time-range query returns


def np_rng(salt: int | str = 0):
    """A seeded numpy Generator, for workloads too large to draw one item at a time."""
    import zlib

    import numpy as np

    return np.random.default_rng(zlib.crc32(f"{SEED}:{salt}".encode()))


def memory_columns(n: int, salt: str = "memory") -> tuple[list, list, list]:
    """``n`` replayable entries as (roles, contents, timestamps) columns.

    Timestamps have exponential gaps (mean 0.5 s, strictly increasing); contents cycle
    through 256 seeded sentences so a million entries cost list operations, not strings.
    """
    r = rng(salt)
    words = ["route", "model", "latency", "token", "budget", "cache", "prompt", "vector",
             "stream", "retry", "context", "window", "answer", "query", "source", "chunk"]
    pool = [" ".join(r.choice(words) for _ in range(r.randint(4, 24))) for _ in range(256)]
    roles = ["user", "assistant"] * (n // 2) + ["user"] * (n % 2)
    contents = (pool * (n // len(pool) + 1))[:n]
    gaps = np_rng(salt).exponential(0.5, n) + 1e-3
    timestamps = (MEMORY_T0 + gaps.cumsum()).tolist()
    return roles, contents, timestamps


def make_memory(n: int, window_size: int = MEMORY_WINDOW, salt: str = "memory"):
    """(manager, conversation id, timestamps): one conversation holding ``n`` entries."""
    MemoryManager = require("intellirouter.memory", "MemoryManager")
    roles, contents, timestamps = memory_columns(n, salt)
    manager = MemoryManager()
    cid = manager.create_conversation("bench", window_size=window_size)
    if not hasattr(manager, "import_columns"):
        raise NotImplementedError("intellirouter.memory lacks bulk import at this commit")
    manager.import_columns(cid, roles, contents, timestamps)
    return manager, cid, timestamps


def memory_range(timestamps: list, k: int = MEMORY_RANGE_K) -> tuple[float, float]:
    """A [start, end) range in the middle of the history holding exactly ``min(k, n)`` entries."""
    n = len(timestamps)
    k = min(k, n)
    i = (n - k) // 2
    end = timestamps[i + k] if i + k < n else timestamps[-1] + 1.0
    return timestamps[i], end


def small_memory(n: int = 10_000):
    """(manager, conversation id, timestamps): ``n`` entries built without numpy (the instruction
    child runs this under valgrind, where importing numpy alone costs seconds)."""
    MemoryManager = require("intellirouter.memory", "MemoryManager")
    manager = MemoryManager()
    cid = manager.create_conversation("small", window_size=MEMORY_WINDOW)
    if not hasattr(manager, "import_columns"):
        raise NotImplementedError("intellirouter.memory lacks bulk import at this commit")
    stamps = [MEMORY_T0 + 0.5 * i for i in range(n)]
    manager.import_columns(cid, ["user", "assistant"] * (n // 2) + ["user"] * (n % 2),
                           [f"message {i % 97} " * (1 + i % 7) for i in range(n)], stamps)
    return manager, cid, stamps


def memory_back_references(turns: int = 2_000, probes: int = 400, salt: str = "memory-refs") -> list[tuple[int, int]]:
    """(turn, referenced turn) pairs, sorted by turn: at ``turn`` the user refers back to what was
    said ``d`` turns earlier, ``d`` drawn from a seeded long-tailed distribution (median 34
    turns, 63% within 50, 13% beyond 100), so a 50-message window holds some and misses others."""
    r = rng(salt)
    refs = []
    for _ in range(probes):
        d = min(int(r.expovariate(1 / 50)) + 1, turns - 1)
        turn = r.randrange(d, turns)
        refs.append((turn, turn - d))
    return sorted(refs)


# ---- RAG workloads (owned by the memory/RAG author) ----

RAG_CHUNK_SIZE = 120  # small chunks keep the 100k-chunk corpus (~11M chars) quick to build
RAG_CHUNK_OVERLAP = 12


def rag_vocabulary(size: int = 6000, salt: str = "rag-vocab") -> list[str]:
    """Pronounceable pseudo-words (unique), so term statistics are realistic but seeded."""
    r = rng(salt)
    onsets, vowels, codas = "bdfgklmnprstvz", "aeiou", ["", "n", "r", "l", "s", "k", "m"]
    seen: dict[str, None] = {}
    while len(seen) < size:
        word = "".join(r.choice(onsets) + r.choice(vowels) + r.choice(codas)
                       for _ in range(r.randint(1, 3)))
        seen.setdefault(word)
    return list(seen)


def rag_query() -> str:
    """The benchmark query: a very common, two mid-frequency and a rare vocabulary word."""
    vocab = rag_vocabulary()
    return " ".join([vocab[2], vocab[150], vocab[900], vocab[4500]])


def rag_paragraphs(count: int = 2048, salt: str = "rag-paragraphs") -> list[str]:
    """A pool of sentences with Zipf-distributed words (plus the query words, sometimes)."""
    import numpy as np

    vocab = rag_vocabulary()
    g = np_rng(salt)
    weights = 1.0 / np.arange(1, len(vocab) + 1)
    picks = g.choice(len(vocab), size=count * 16, p=weights / weights.sum())
    lengths = g.integers(6, 26, size=count)
    out, pos = [], 0
    for length in lengths.tolist():
        out.append(" ".join(vocab[j] for j in picks[pos:pos + length].tolist()).capitalize() + ".")
        pos += length
    return out


def rag_source_texts(n_chunks: int, size: int = RAG_CHUNK_SIZE, overlap: int = RAG_CHUNK_OVERLAP,
                     salt: str = "rag-corpus", per_source: int | None = None) -> list[tuple[str, str]]:
    """(name, text) sources that chunk into exactly ``n_chunks`` chunks of ``size``/``overlap``.

    Sources hold ``per_source`` chunks each (default: a tenth of the corpus, 10 to 500);
    texts are seeded draws from the paragraph pool, cut to the length that yields their
    chunk count.
    """
    pool = rag_paragraphs()
    if per_source is None:
        per_source = min(500, max(10, n_chunks // 10))
    step = size - overlap
    g = np_rng(f"{salt}:{n_chunks}")
    sources, left, i = [], n_chunks, 0
    while left > 0:
        c = min(per_source, left)
        length = c * step + overlap if c > 1 else size
        picks = g.integers(0, len(pool), size=length // 40 + 2).tolist()
        text = " ".join(pool[j] for j in picks)
        while len(text) < length:
            text += " " + pool[picks[len(text) % len(picks)]]
        sources.append((f"doc-{i:04d}", text[:length]))
        left -= c
        i += 1
    return sources


def make_rag(n_chunks: int, salt: str = "rag-corpus"):
    """A RAGManager holding ``n_chunks`` chunks with its BM25 index already built."""
    RAGManager = require("intellirouter.rag", "RAGManager")
    manager = RAGManager(chunk_size=RAG_CHUNK_SIZE, chunk_overlap=RAG_CHUNK_OVERLAP)
    for name, text in rag_source_texts(n_chunks, salt=salt):
        manager.add_text(name, text)
    if hasattr(manager, "build_index"):
        manager.build_index()  # so a timed query measures retrieval, not the lazy rebuild
    return manager


def small_rag(n_chunks: int = 1_000, salt: str = "rag-small"):
    """A RAGManager of ``n_chunks`` chunks of seeded pseudo-words, indexed, built without numpy
    (for the instruction child), and a query of a common, a mid and a rare word."""
    RAGManager = require("intellirouter.rag", "RAGManager")
    vocab = rag_vocabulary()
    r = rng(f"{salt}:{n_chunks}")
    manager = RAGManager(chunk_size=RAG_CHUNK_SIZE, chunk_overlap=RAG_CHUNK_OVERLAP)
    step, per_source = RAG_CHUNK_SIZE - RAG_CHUNK_OVERLAP, 10
    weights = [1.0 / (k + 1) for k in range(len(vocab))]
    for i in range(n_chunks // per_source):
        length = per_source * step + RAG_CHUNK_OVERLAP
        words = r.choices(vocab, weights, k=length // 5)
        manager.add_text(f"doc-{i:04d}", " ".join(words)[:length].ljust(length, "."))
    if hasattr(manager, "build_index"):
        manager.build_index()
    return manager, " ".join([vocab[2], vocab[150], vocab[900]])


def make_fuse_chunks(n_chunks: int, salt: str = "rag-fuse") -> list:
    """``n_chunks`` RetrievedChunk values of up to RAG_CHUNK_SIZE characters, every seventh
    ending in multi-byte characters (where a truncation may land), 500 per source name."""
    RetrievedChunk = require("intellirouter.rag", "RetrievedChunk")
    pool = rag_paragraphs()
    g = np_rng(f"{salt}:{n_chunks}")
    first = g.integers(0, len(pool), size=n_chunks).tolist()
    second = g.integers(0, len(pool), size=n_chunks).tolist()
    accents = ("é", "ü", "中", "😀")
    chunks = []
    for i in range(n_chunks):
        body = (pool[first[i]] + " " + pool[second[i]])[:RAG_CHUNK_SIZE]
        if i % 7 == 3:
            body = body[:-2] + accents[i % 4] * 2
        chunks.append(RetrievedChunk(f"doc-{i // 500:04d}", i % 500, 0, len(body), body, 1.0))
    return chunks


def fuse_budget(chunks: list, fuse_context) -> int:
    """A budget that fits the first half of ``chunks`` whole and cuts the next one mid-text."""
    head = fuse_context(chunks[: len(chunks) // 2], 1 << 62)
    nxt = chunks[len(chunks) // 2]
    header = len(f"[{nxt.source} #{nxt.chunk_index}]\n")
    return len(head) + 2 + header + len(nxt.text) // 2


def make_rag_hit_rate_corpus(salt: str = "rag-hits"):
    """(manager, cases): a seeded corpus with planted facts and queries whose answer is known.

    Each fact is 6 words that appear nowhere in the background text, written inside one chunk
    (clear of the overlaps, so exactly one chunk holds it). Every fact word is also planted,
    twice, in three distractor chunks. A query takes 1-3 of its fact's words plus two common
    words: a one-word query ranks the three distractors (tf 2) above the fact (tf 1), a
    two- or three-word query should find it, so the top-3 hit rate is informative, not 1.
    Returns cases as (query, (source name, chunk index)).
    """
    RAGManager, chunk_spans = require("intellirouter.rag", "RAGManager", "chunk_spans")
    r = rng(salt)
    size, overlap = 300, 40
    background = rag_paragraphs(salt=f"{salt}:bg")
    common = rag_vocabulary()[:40]
    n_sources, length = 30, 300 * 30
    texts = []
    for _ in range(n_sources):
        text = " ".join(r.choice(background) for _ in range(length // 40 + 2))
        texts.append(list(text[:length]))
    spans = chunk_spans(length, size, overlap)

    def plant(source: int, chunk: int, phrase: str) -> None:
        start, end = spans[chunk]
        lo, hi = start + overlap + 1, end - overlap - len(phrase) - 1
        at = r.randint(lo, hi)
        texts[source][at:at + len(phrase) + 2] = list(f" {phrase} ")

    used, cases = set(), []
    for f in range(40):
        words = [f"zq{f:02d}{k}x" for k in range(6)]
        while True:
            where = (r.randrange(n_sources), r.randrange(1, len(spans) - 1))
            if where not in used:
                break
        used.add(where)
        plant(where[0], where[1], " ".join(words))
        for word in words[:3]:
            for _ in range(3):
                while True:
                    spot = (r.randrange(n_sources), r.randrange(1, len(spans) - 1))
                    if spot not in used:
                        break
                used.add(spot)
                plant(spot[0], spot[1], f"{word} {word}")
        k = 1 + f % 3
        query = " ".join(words[:k] + r.sample(common, 2))
        cases.append((query, (f"kb-{where[0]:02d}", where[1])))
    manager = RAGManager(chunk_size=size, chunk_overlap=overlap)
    for i, chars in enumerate(texts):
        manager.add_text(f"kb-{i:02d}", "".join(chars))
    return manager, cases


def make_rag_recall_corpus(salt: str = "rag-recall"):
    """(manager, cases): a seeded corpus where every query has three relevant chunks.

    Each of 40 facts is 4 words found nowhere in the background text, written whole into three
    chunks of three different sources (clear of the overlaps); each of its first two words is
    also planted twice in three distractor chunks. A query takes 1-2 of its fact's words plus
    two common words: with one word the distractors (tf 2) outrank the relevant chunks (tf 1),
    with two the relevant ones lead, so recall@5 is informative, not 1.
    Returns cases as (query, frozenset of (source name, chunk index)).
    """
    RAGManager, chunk_spans = require("intellirouter.rag", "RAGManager", "chunk_spans")
    r = rng(salt)
    size, overlap, n_sources, length = 300, 40, 30, 300 * 30
    background = rag_paragraphs(salt=f"{salt}:bg")
    common = rag_vocabulary()[:40]
    texts = [list(" ".join(r.choice(background) for _ in range(length // 40 + 2))[:length]) for _ in range(n_sources)]
    spans = chunk_spans(length, size, overlap)
    used: set[tuple[int, int]] = set()

    def spot(avoid_sources=()) -> tuple[int, int]:
        while True:
            where = (r.randrange(n_sources), r.randrange(1, len(spans) - 1))
            if where not in used and where[0] not in avoid_sources:
                used.add(where)
                return where

    def plant(where: tuple[int, int], phrase: str) -> None:
        start, end = spans[where[1]]
        at = r.randint(start + overlap + 1, end - overlap - len(phrase) - 1)
        texts[where[0]][at:at + len(phrase) + 2] = list(f" {phrase} ")

    cases = []
    for f in range(40):
        words = [f"zr{f:02d}{k}y" for k in range(4)]
        relevant: list[tuple[int, int]] = []
        for _ in range(3):
            relevant.append(spot({s for s, _ in relevant}))
            plant(relevant[-1], " ".join(words))
        for word in words[:2]:
            for _ in range(3):
                plant(spot(), f"{word} {word}")
        query = " ".join(words[: 1 + f % 2] + r.sample(common, 2))
        cases.append((query, frozenset((f"kb-{s:02d}", c) for s, c in relevant)))
    manager = RAGManager(chunk_size=size, chunk_overlap=overlap)
    for i, chars in enumerate(texts):
        manager.add_text(f"kb-{i:02d}", "".join(chars))
    return manager, cases
