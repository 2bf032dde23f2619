"""Executing chains: model connectors, the engine, the scheduler and its results.

``ChainEngine.execute_async`` runs the plan built by :func:`intellirouter.chain.check`
with Kahn's algorithm as a live scheduler: a step becomes ready when all its
predecessors are resolved (completed or skipped), its gates (dependency kinds, branch
choice) decide run-or-skip, and it runs at once. A step whose call returns a plain value
completes inline (no task, so a long linear chain costs little per step); one that
returns an awaitable becomes an asyncio task, so independent steps and the branches of a
parallel step overlap. ``execute`` is the synchronous wrapper: it runs inline without an
event loop until the first awaitable, and only then starts one and hands the rest over.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol, runtime_checkable

from intellirouter.chain.model import StepKind
from intellirouter.chain.registry import CallableRegistry
from intellirouter.chain.template import MISSING, TemplateError, render_value
from intellirouter.chain.validate import Plan, check, input_problems, validate
from intellirouter.errors import ChainExecutionError, ChainValidationError

# ---------------------------------------------------------------------------------------
# Model connectors
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CompletionRequest:
    prompt: str
    model: str | None = None
    system: str | None = None
    max_tokens: int = 256
    temperature: float = 0.0
    step_id: str = ""


@dataclass(frozen=True, slots=True)
class Completion:
    text: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str = "stop"


@runtime_checkable
class ModelConnector(Protocol):
    """Anything with ``complete(request)`` returning a Completion, or an awaitable of one
    (a network client returns a coroutine; a local model may answer inline)."""

    def complete(self, request: CompletionRequest) -> Completion | Awaitable[Completion]: ...


_WORD = re.compile(r"\w+")


def _is_awaitable(value) -> bool:
    """Coroutines, Futures and Tasks; cheaper than inspect.isawaitable for plain values."""
    return getattr(type(value), "__await__", None) is not None


def count_tokens(text: str) -> int:
    """~4 characters per token, the usual rule of thumb for English BPE tokenizers."""
    return (len(text) + 3) // 4


class LocalConnector:
    """Deterministic offline model: the reply is a hash-seeded remix of the prompt's words
    and a small vocabulary, 4–32 words counted as tokens (capped by ``max_tokens``); prompt
    tokens are estimated at ~4 characters each. Same request, same reply,
    on every machine. ``latency_s`` / ``per_token_latency_s`` simulate a remote model with
    ``asyncio.sleep`` (the call then returns a coroutine and the step runs as a task);
    ``asynchronous=True`` does so even with zero latency, like a network client."""

    VOCAB = (
        "the",
        "model",
        "answer",
        "context",
        "result",
        "plan",
        "step",
        "data",
        "route",
        "token",
        "summary",
        "because",
        "therefore",
        "and",
        "with",
        "value",
        "check",
        "next",
        "final",
        "draft",
        "source",
        "query",
        "score",
        "best",
        "cost",
        "fast",
        "chain",
        "memory",
        "retrieve",
        "reason",
        "output",
        "done",
    )

    def __init__(
        self,
        *,
        model: str = "local-echo",
        seed: int = 0,
        latency_s: float = 0.0,
        per_token_latency_s: float = 0.0,
        asynchronous: bool = False,
    ):
        if latency_s < 0 or per_token_latency_s < 0:
            raise ValueError("simulated latencies must be >= 0")
        self.model, self.seed = model, seed
        self.latency_s, self.per_token_latency_s = latency_s, per_token_latency_s
        self.asynchronous = asynchronous

    def generate(self, request: CompletionRequest) -> Completion:
        model = request.model or self.model
        system = request.system or ""
        key = f"{self.seed}\0{model}\0{request.temperature}\0{system}\0{request.prompt}".encode()
        digest = hashlib.blake2b(key, digest_size=64).digest()
        words = _WORD.findall(request.prompt)
        n = min(request.max_tokens, 4 + digest[0] % 29)
        vocab, n_vocab, n_words = self.VOCAB, len(self.VOCAB), len(words)
        # odd bytes echo a word of the prompt, even ones pick from the vocabulary
        out = [words[(b >> 1) % n_words] if b & 1 and n_words else vocab[(b >> 1) % n_vocab] for b in digest[1 : 1 + n]]
        return Completion(
            " ".join(out),
            model,
            count_tokens(system) + count_tokens(request.prompt),
            n,
            "length" if n == request.max_tokens else "stop",
        )

    def complete(self, request: CompletionRequest):
        completion = self.generate(request)
        delay = self.latency_s + self.per_token_latency_s * completion.completion_tokens
        return self._after(delay, completion) if delay > 0 or self.asynchronous else completion

    @staticmethod
    async def _after(delay: float, completion: Completion) -> Completion:
        await asyncio.sleep(delay)
        return completion


# ---------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------


class Event(NamedTuple):
    seq: int  # global order of events within one execution
    t_ns: int  # time.perf_counter_ns()
    kind: str  # "start" | "end" | "skip"
    step: str  # step path: "a", "par/b", "loop[2]/body"


@dataclass(slots=True)
class StepRecord:
    step_id: str
    kind: str
    status: str  # "completed" | "skipped"
    output: Any = None
    reason: str = ""  # why it was skipped
    iterations: int | None = None  # loops
    broke: bool | None = None  # loops: stopped by the break condition
    completion: Completion | None = None  # LLM steps


@dataclass
class ChainResult:
    chain_id: str
    outputs: dict[str, Any]
    steps: dict[str, StepRecord]
    events: list[Event] = field(repr=False)
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def __repr__(self) -> str:  # short: a result may hold thousands of steps
        return (
            f"ChainResult(chain_id={self.chain_id!r}, steps={len(self.steps)}, "
            f"completed={len(self.completed)}, skipped={len(self.skipped)}, "
            f"outputs={list(self.outputs)!r})"
        )

    @property
    def completed(self) -> list[str]:
        return [k for k, r in self.steps.items() if r.status == "completed"]

    @property
    def skipped(self) -> list[str]:
        return [k for k, r in self.steps.items() if r.status == "skipped"]


# ---------------------------------------------------------------------------------------
# The engine
# ---------------------------------------------------------------------------------------


class ChainEngine:
    def __init__(self, connector: ModelConnector | None = None, *, max_concurrency: int | None = None):
        self.connector = connector if connector is not None else LocalConnector()
        if not callable(getattr(self.connector, "complete", None)):
            raise TypeError(f"connector {type(self.connector).__name__} has no complete(request) method")
        if max_concurrency is not None and (not isinstance(max_concurrency, int) or max_concurrency < 1):
            raise ValueError(f"max_concurrency must be a positive int or None, got {max_concurrency!r}")
        self.max_concurrency = max_concurrency
        self.functions = CallableRegistry("function")
        self.tools = CallableRegistry("tool")

    def register_function(self, name: str, fn: Callable, *, description: str = "", replace: bool = False):
        return self.functions.register(name, fn, description=description, replace=replace)

    def register_tool(self, name: str, fn: Callable, *, description: str = "", replace: bool = False):
        return self.tools.register(name, fn, description=description, replace=replace)

    def validate(self, chain, inputs: Mapping[str, Any] | None = None) -> list:
        """Every problem, including unknown functions/tools and bad arguments for them."""
        return validate(chain, inputs, functions=self.functions, tools=self.tools)

    def compile(self, chain) -> Plan:
        """A reusable plan (structure checked now, inputs at each execute)."""
        return check(chain, None, functions=self.functions, tools=self.tools, check_inputs=False)

    def execute(self, chain, inputs: Mapping[str, Any] | None = None) -> ChainResult:
        """Run synchronously. Steps run inline until one returns an awaitable; only then is
        an event loop started (so a chain of plain calls never pays for one)."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            run = _Run(self, self._plan(chain, inputs), inputs or {})
            handoff = run.run_inline()
            return run.result() if handoff is None else asyncio.run(run.run(handoff))
        raise RuntimeError(
            "ChainEngine.execute() was called inside a running event loop; use 'await engine.execute_async(...)' there"
        )

    async def execute_async(self, chain, inputs: Mapping[str, Any] | None = None) -> ChainResult:
        return await _Run(self, self._plan(chain, inputs), inputs or {}).run()

    def _plan(self, chain, inputs) -> Plan:
        if not isinstance(chain, Plan):
            return check(chain, inputs, functions=self.functions, tools=self.tools)
        problems = input_problems(chain.variables, inputs)  # the structure was checked by compile
        if problems:
            raise ChainValidationError(problems)
        return chain


def _fail(path: str, exc: BaseException) -> ChainExecutionError:
    detail = str(exc) if isinstance(exc, TemplateError) else f"{type(exc).__name__}: {exc}"
    err = ChainExecutionError(f"step '{path}' failed: {detail}")
    err.step_id = path
    err.__cause__ = exc
    return err


class _Deferred:
    """An awaitable step result produced before an event loop exists (inline mode); it is
    awaited (as a task) once the loop runs, or closed unstarted if a sibling fails first."""

    __slots__ = ("run", "awaitable", "path")

    def __init__(self, run, awaitable, path: str):
        self.run, self.awaitable, self.path = run, awaitable, path

    def __await__(self):
        return self.run._guard(self.awaitable, self.path).__await__()

    def close(self) -> None:
        close = getattr(self.awaitable, "close", None)
        if close is not None:
            close()


class _LoopState:
    __slots__ = ("previous", "outputs", "iterations", "broke")

    def __init__(self):
        self.previous, self.outputs, self.iterations, self.broke = None, [], 0, False


class _Run:
    """One execution: values (variables + step outputs), records, events, token usage."""

    def __init__(self, engine: ChainEngine, plan: Plan, inputs: Mapping[str, Any]):
        self.engine, self.plan = engine, plan
        self.connector, self.functions, self.tools = engine.connector, engine.functions, engine.tools
        self.values: dict[str, Any] = dict(plan.defaults)
        self.values.update(inputs)
        self.records: dict[str, StepRecord] = {}
        self.events: list[Event] = []
        self._seq = itertools.count()
        self._extra: dict[str, Any] = {}  # path -> Completion or _LoopState, for records
        self.prompt_tokens = self.completion_tokens = 0
        missing = MISSING
        values = self.values
        self._top_lookup = lambda root: values.get(root, missing)
        self._init_schedule()

    # -- bookkeeping -------------------------------------------------------------------
    def _event(self, kind: str, path: str) -> None:
        self.events.append(Event(next(self._seq), time.perf_counter_ns(), kind, path))

    def _lookup(self, local):
        if not local:
            return self._top_lookup
        values, missing = self.values, MISSING

        def lookup(root):
            v = local.get(root, missing)
            return values.get(root, missing) if v is missing else v

        return lookup

    def _keys(self, local):
        return lambda: itertools.chain(local or (), (k for k in self.values if k not in (local or ())))

    # -- the scheduler -----------------------------------------------------------------
    # Kahn's algorithm run live: ``indeg`` counts unresolved predecessors, ``ready`` holds
    # steps whose predecessors are all resolved. Inline results complete at once; awaitables
    # become tasks that queue themselves in ``finished`` when done, and one wake-up future
    # per wait keeps each completion O(1) (asyncio.wait would re-register on every task).
    def _init_schedule(self) -> None:
        n = len(self.plan.nodes)
        self.indeg = [len(p) for p in self.plan.preds]
        self.status = [0] * n  # 0 pending, 1 completed, 2 skipped
        self.ready = deque(i for i in range(n) if self.indeg[i] == 0)
        self.running: dict[asyncio.Future, int] = {}
        self.finished: deque = deque()
        self.wake = None
        self.limit = self.engine.max_concurrency or 0
        self.inline = False  # True: no event loop yet; stop at the first awaitable

    def _release(self, i: int) -> None:
        indeg, ready = self.indeg, self.ready
        for j in self.plan.succs[i]:
            indeg[j] -= 1
            if indeg[j] == 0:
                ready.append(j)

    def _pump(self):
        """Start every ready step (up to the concurrency limit). Inline mode returns the
        first (index, awaitable) instead of scheduling it; otherwise returns None."""
        nodes, ready, running, limit = self.plan.nodes, self.ready, self.running, self.limit
        while ready and not (limit and len(running) >= limit):
            i = ready.popleft()
            reason = self._gate(i)
            if reason is not None:
                self._skip(i, reason)
                self._release(i)
                continue
            result = self._start(nodes[i], nodes[i].id, None)
            if _is_awaitable(result):
                if self.inline:
                    return i, result
                self._track(i, result)
            else:
                self._complete(i, result)
                self._release(i)
        return None

    def _track(self, i: int, awaitable) -> None:
        task = asyncio.ensure_future(awaitable)
        self.running[task] = i
        task.add_done_callback(self._on_done)

    def _on_done(self, task) -> None:
        self.finished.append(task)
        if self.wake is not None and not self.wake.done():
            self.wake.set_result(None)

    def run_inline(self):
        """Run without an event loop as far as possible: None when the chain finished,
        else the (index, awaitable) that needs one (pass it to ``run``)."""
        self.inline = True
        try:
            return self._pump()
        finally:
            self.inline = False

    async def run(self, handoff=None) -> ChainResult:
        loop = asyncio.get_running_loop()
        running, finished = self.running, self.finished
        try:
            if handoff is not None:
                self._track(*handoff)
            while True:
                self._pump()
                if not running:
                    break
                if not finished:
                    self.wake = loop.create_future()
                    await self.wake
                while finished:
                    task = finished.popleft()
                    i = running.pop(task)
                    self._complete(i, task.result())
                    self._release(i)
        except BaseException:
            for task in running:
                task.cancel()
            if running:
                await asyncio.gather(*running, return_exceptions=True)
            raise
        return self.result()

    def result(self) -> ChainResult:
        plan, records = self.plan, self.records
        return ChainResult(
            plan.chain.id,
            self._outputs(),
            {sid: records[sid] for sid in plan.ids},
            self.events,
            self.prompt_tokens,
            self.completion_tokens,
        )

    def _gate(self, i: int) -> str | None:
        """None when step i may run, else why it is skipped."""
        status, ids = self.status, self.plan.ids
        for gate in self.plan.gates[i]:
            kind = gate[0]
            if kind == "simple" or kind == "cond":
                p = gate[1]
                if status[p] != 1:
                    return f"dependency '{ids[p]}' was skipped"
                if kind == "cond":
                    try:
                        ok = gate[2].evaluate(self._top_lookup, self._keys(None))
                    except Exception as exc:
                        raise _fail(ids[i], exc) from exc
                    if not ok:
                        return f"condition on '{ids[p]}' is false"
            elif kind == "all":
                for p in gate[1]:
                    if status[p] != 1:
                        return f"dependency '{ids[p]}' was skipped"
            elif kind == "any":
                if not any(status[p] == 1 for p in gate[1]):
                    return "none of " + ", ".join(f"'{ids[p]}'" for p in gate[1]) + " completed"
            else:  # branch
                c, want_then = gate[1], gate[2]
                if status[c] != 1:
                    return f"conditional '{ids[c]}' was skipped"
                if (self.values[ids[c]] == "then") != want_then:
                    return f"branch '{'then' if want_then else 'else'}' of '{ids[c]}' was not chosen"
        return None

    def _skip(self, i: int, reason: str) -> None:
        node = self.plan.nodes[i]
        self.status[i] = 2
        self.values[node.id] = None
        self.records[node.id] = StepRecord(node.id, node.kind.value, "skipped", reason=reason)
        self._event("skip", node.id)

    def _complete(self, i: int, value) -> None:
        node = self.plan.nodes[i]
        self.status[i] = 1
        self.values[node.id] = value
        rec = StepRecord(node.id, node.kind.value, "completed", value)
        extra = self._extra.pop(node.id, None)
        if isinstance(extra, Completion):
            rec.completion = extra
        elif isinstance(extra, _LoopState):
            rec.iterations, rec.broke = extra.iterations, extra.broke
        self.records[node.id] = rec

    def _outputs(self) -> dict[str, Any]:
        plan = self.plan
        if not plan.outputs:
            return {
                plan.ids[i]: self.values[plan.ids[i]]
                for i in range(len(plan.ids))
                if not plan.succs[i] and self.status[i] == 1
            }
        out = {}
        for name, template in plan.outputs.items():
            try:
                out[name] = template.value(self._top_lookup)
            except TemplateError as exc:
                err = ChainExecutionError(f"output '{name}' failed: {exc}")
                err.step_id = None
                raise err from exc
        return out

    # -- running one step (top-level or nested) ------------------------------------------
    def _start(self, node, path: str, local):
        """Record the start and call the step: a value, or an awaitable that records the end."""
        self._event("start", path)
        try:
            result = self._invoke(node, path, local)
        except ChainExecutionError:
            raise
        except Exception as exc:
            raise _fail(path, exc) from exc
        if _is_awaitable(result):
            if self.inline:  # no loop yet: hand the awaitable over, it becomes a task later
                return _Deferred(self, result, path)
            # a task at once: it starts on the next loop turn, overlapping its siblings
            return asyncio.ensure_future(self._guard(result, path))
        self._event("end", path)
        return result

    async def _guard(self, awaitable, path: str):
        try:
            result = await awaitable
        except ChainExecutionError:
            raise
        except Exception as exc:
            raise _fail(path, exc) from exc
        self._event("end", path)
        return result

    def _invoke(self, node, path: str, local):
        kind, step = node.kind, node.step
        K = StepKind
        lookup = self._lookup(local)
        if kind is K.LLM_INFERENCE:
            request = CompletionRequest(
                prompt=node.prompt.render(lookup),
                system=node.system.render(lookup) if node.system is not None else None,
                model=step.model,
                max_tokens=step.max_tokens,
                temperature=step.temperature,
                step_id=path,
            )
            reply = self.connector.complete(request)
            if _is_awaitable(reply):
                return self._await_completion(reply, path)
            return self._take_completion(reply, path)
        if kind is K.FUNCTION_CALL:
            return self.functions[step.function].fn(**render_value(node.args, lookup))
        if kind is K.TOOL_USE:
            args = {}
            if node.args_from is not None:
                dynamic = node.args_from.value(lookup)
                if isinstance(dynamic, str):
                    try:
                        dynamic = json.loads(dynamic)
                    except json.JSONDecodeError as exc:
                        raise ValueError(f"args_from is not JSON: {exc}") from None
                if not isinstance(dynamic, Mapping):
                    raise TypeError(f"args_from must give an object, got {type(dynamic).__name__}")
                args.update(dynamic)
            args.update(render_value(node.args, lookup))
            return self.tools[step.tool].fn(**args)
        if kind is K.CONDITIONAL:
            return "then" if node.condition.evaluate(lookup, self._keys(local)) else "else"
        if kind is K.PARALLEL:
            return self._parallel(node, path, local)
        return self._loop(node, path, local)

    def _take_completion(self, reply, path: str) -> str:
        if not isinstance(reply, Completion):
            raise TypeError(f"connector returned {type(reply).__name__}, expected Completion")
        self.prompt_tokens += reply.prompt_tokens
        self.completion_tokens += reply.completion_tokens
        self._extra[path] = reply
        return reply.text

    async def _await_completion(self, awaitable, path: str) -> str:
        return self._take_completion(await awaitable, path)

    def _parallel(self, node, path: str, local):
        results: dict[str, Any] = {}
        pending: dict[str, Awaitable] = {}
        try:
            for child in node.children:
                r = self._start(child, f"{path}/{child.id}", local)
                results[child.id] = r
                if _is_awaitable(r):
                    pending[child.id] = r
        except BaseException:
            for aw in pending.values():  # tasks, or _Deferred not yet started (inline mode)
                if hasattr(aw, "cancel"):
                    aw.cancel()
                else:
                    aw.close()
            raise
        return self._gather(results, pending) if pending else results

    async def _gather(self, results: dict, pending: dict):
        tasks = {cid: asyncio.ensure_future(aw) for cid, aw in pending.items()}  # no-op for tasks
        try:
            await asyncio.wait(tasks.values(), return_when=asyncio.FIRST_EXCEPTION)
            for task in tasks.values():  # the first failure in branch order wins
                if task.done() and not task.cancelled() and task.exception() is not None:
                    raise task.exception()
        finally:
            late = [t for t in tasks.values() if not t.done()]
            for t in late:
                t.cancel()
            if late:
                await asyncio.gather(*late, return_exceptions=True)
        for cid, task in tasks.items():
            results[cid] = task.result()
        return results

    # loops: run inline while the body answers inline; switch to one coroutine (flat, not
    # nested per iteration) at the first awaitable body result.
    def _loop(self, node, path: str, local):
        step, lookup = node.step, self._lookup(local)
        items = None
        if node.for_each is not None:
            items = node.for_each.value(lookup)
            if isinstance(items, str):
                items = json.loads(items)
            if isinstance(items, (str, bytes, Mapping)) or not hasattr(items, "__iter__"):
                raise TypeError(f"for_each must give a list, got {type(items).__name__}")
            items = list(items)
            if step.max_iterations is not None and len(items) > step.max_iterations:
                raise ValueError(f"{len(items)} items exceed max_iterations={step.max_iterations}")
        bound = len(items) if items is not None else step.max_iterations
        state = _LoopState()
        self._extra[path] = state
        body = node.children[0]
        for k in range(bound):
            loc = self._loop_locals(local, k, items, state)
            r = self._start(body, f"{path}[{k}]/{body.id}", loc)
            if _is_awaitable(r):
                return self._loop_async(node, path, local, items, bound, k, r, loc, state)
            if self._iteration_done(node, path, loc, r, state):
                break
        return state.outputs if step.collect else state.previous

    async def _loop_async(self, node, path, local, items, bound, pending_k, pending, loc, state):
        """The rest of a loop from iteration ``pending_k``, whose body result is ``pending``."""
        body = node.children[0]
        r = await pending
        if not self._iteration_done(node, path, loc, r, state):
            for k in range(pending_k + 1, bound):
                loc = self._loop_locals(local, k, items, state)
                r = self._start(body, f"{path}[{k}]/{body.id}", loc)
                if _is_awaitable(r):
                    r = await r
                if self._iteration_done(node, path, loc, r, state):
                    break
        return state.outputs if node.step.collect else state.previous

    @staticmethod
    def _loop_locals(local, k, items, state):
        loc = dict(local) if local else {}
        loc["loop"] = {
            "index": k,
            "item": items[k] if items is not None else None,
            "previous": state.previous,
            "output": None,
        }
        return loc

    def _iteration_done(self, node, path, loc, output, state) -> bool:
        state.previous = output
        state.iterations += 1
        if node.step.collect:
            state.outputs.append(output)
        if node.break_condition is None:
            return False
        loc["loop"]["output"] = output
        try:
            stop = node.break_condition.evaluate(self._lookup(loc), self._keys(loc))
        except Exception as exc:
            raise _fail(path, exc) from exc
        state.broke = bool(stop)
        return state.broke
