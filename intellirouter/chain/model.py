"""Chain definitions: steps, dependencies, conditions, variables, chains, problems.

A chain is a list of top-level steps wired by dependencies, plus declared variables and an
output mapping. Step kinds: LLM inference, function call, tool use, conditional, parallel
(inline branches run concurrently) and loop (an inline body run up to a bound or until a
break condition holds). Dependency kinds: simple (one step), all, any, conditional (one
step plus a condition on the values known at that point).

Values flow through ``{{name}}`` / ``{{name.key.0}}`` templates (see ``template``). This
module holds only the definitions and ``chain_from_dict``; it imports nothing else of the
chain package, so every other module may import it.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from dataclasses import KW_ONLY, dataclass, field
from typing import Any, ClassVar

from intellirouter.errors import ChainValidationError

# ---------------------------------------------------------------------------------------
# Definitions
# ---------------------------------------------------------------------------------------


class StepKind(enum.Enum):
    LLM_INFERENCE = "llm_inference"
    FUNCTION_CALL = "function_call"
    TOOL_USE = "tool_use"
    CONDITIONAL = "conditional"
    PARALLEL = "parallel"
    LOOP = "loop"


class DependencyKind(enum.Enum):
    SIMPLE = "simple"  # run iff the one step completed
    ALL = "all"  # run iff every listed step completed
    ANY = "any"  # run iff at least one listed step completed
    CONDITIONAL = "conditional"  # run iff the one step completed and the condition holds


@dataclass(frozen=True)
class Condition:
    """``left <op> right``; ``left``/``right`` may be templates. Ops: see ``template.CONDITION_OPS``."""

    left: str
    op: str = "truthy"
    right: Any = None


@dataclass(frozen=True)
class AllOf:
    conditions: tuple

    def __init__(self, *conditions):
        object.__setattr__(self, "conditions", tuple(conditions))


@dataclass(frozen=True)
class AnyOf:
    conditions: tuple

    def __init__(self, *conditions):
        object.__setattr__(self, "conditions", tuple(conditions))


@dataclass(frozen=True)
class Not:
    condition: Any


@dataclass(frozen=True)
class Dependency:
    kind: DependencyKind
    steps: tuple[str, ...]
    condition: Any = None  # Condition / AllOf / AnyOf / Not / callable(view) -> bool

    def __post_init__(self):
        steps = (self.steps,) if isinstance(self.steps, str) else tuple(self.steps)
        object.__setattr__(self, "steps", steps)

    @classmethod
    def simple(cls, step_id: str) -> Dependency:
        return cls(DependencyKind.SIMPLE, (step_id,))

    @classmethod
    def all(cls, *step_ids: str) -> Dependency:
        return cls(DependencyKind.ALL, step_ids)

    @classmethod
    def any(cls, *step_ids: str) -> Dependency:
        return cls(DependencyKind.ANY, step_ids)

    @classmethod
    def conditional(cls, step_id: str, condition) -> Dependency:
        return cls(DependencyKind.CONDITIONAL, (step_id,), condition)


def _normalise_deps(deps) -> tuple:
    if deps is None:
        return ()
    if isinstance(deps, (str, Dependency)):
        deps = (deps,)
    return tuple(Dependency.simple(d) if isinstance(d, str) else d for d in deps)


@dataclass(frozen=True)
class Step:
    """Common fields. ``name`` defaults to the id; an explicitly blank name is a problem."""

    kind: ClassVar[StepKind]
    id: str
    _: KW_ONLY
    name: str | None = None
    depends_on: tuple = ()
    description: str = ""

    def __post_init__(self):
        object.__setattr__(self, "depends_on", _normalise_deps(self.depends_on))
        if self.name is None:
            object.__setattr__(self, "name", self.id)

    def children(self) -> tuple[Step, ...]:
        return ()


@dataclass(frozen=True, kw_only=True)
class LLMStep(Step):
    kind: ClassVar[StepKind] = StepKind.LLM_INFERENCE
    prompt: str
    system: str | None = None
    model: str | None = None
    max_tokens: int = 256
    temperature: float = 0.0


@dataclass(frozen=True, kw_only=True)
class FunctionStep(Step):
    kind: ClassVar[StepKind] = StepKind.FUNCTION_CALL
    function: str
    args: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class ToolStep(Step):
    """Calls a registered tool; ``args_from`` (a template yielding a dict or a JSON object
    string, typically a model's output) supplies arguments merged under the static ``args``."""

    kind: ClassVar[StepKind] = StepKind.TOOL_USE
    tool: str
    args: Mapping[str, Any] = field(default_factory=dict)
    args_from: str | None = None


@dataclass(frozen=True, kw_only=True)
class ConditionalStep(Step):
    """Chooses a branch: the chosen branch's target steps may run, the others are skipped
    (and so, per dependency kind, is everything that depends only on skipped steps).
    Output: ``"then"`` or ``"else"``."""

    kind: ClassVar[StepKind] = StepKind.CONDITIONAL
    condition: Any
    then_steps: tuple[str, ...] = ()
    else_steps: tuple[str, ...] = ()

    def __post_init__(self):
        super().__post_init__()
        for attr in ("then_steps", "else_steps"):
            v = getattr(self, attr)
            object.__setattr__(self, attr, (v,) if isinstance(v, str) else tuple(v))


@dataclass(frozen=True, kw_only=True)
class ParallelStep(Step):
    """Runs inline ``branches`` concurrently; output: ``{branch id: branch output}``."""

    kind: ClassVar[StepKind] = StepKind.PARALLEL
    branches: tuple[Step, ...]

    def __post_init__(self):
        super().__post_init__()
        object.__setattr__(self, "branches", tuple(self.branches))

    def children(self):
        return self.branches


@dataclass(frozen=True, kw_only=True)
class LoopStep(Step):
    """Runs ``body`` for each item of ``for_each`` (a template) or up to ``max_iterations``,
    stopping early when ``break_condition`` holds (it sees ``loop.output``). Output: the
    last body output, or the list of all of them with ``collect=True``."""

    kind: ClassVar[StepKind] = StepKind.LOOP
    body: Step
    max_iterations: int | None = None
    break_condition: Any = None
    for_each: str | None = None
    collect: bool = False

    def children(self):
        return (self.body,)


@dataclass(frozen=True)
class Variable:
    name: str
    required: bool = False
    default: Any = None
    description: str = ""


@dataclass(frozen=True)
class Chain:
    """``outputs`` maps result names to templates; empty means "every completed sink step"."""

    id: str
    steps: tuple[Step, ...]
    variables: tuple[Variable, ...] = ()
    outputs: Mapping[str, str] = field(default_factory=dict)
    name: str = ""
    description: str = ""

    def __post_init__(self):
        object.__setattr__(self, "steps", tuple(self.steps))
        object.__setattr__(self, "variables", tuple(self.variables))
        object.__setattr__(self, "outputs", dict(self.outputs))


@dataclass(frozen=True)
class Problem:
    """One validation finding. ``step_id`` is None for chain-level problems (variables, outputs)."""

    step_id: str | None
    code: str
    message: str
    path: tuple[str, ...] = ()

    def __str__(self) -> str:
        where = f"step '{self.step_id}'" if self.step_id is not None else "chain"
        return f"{where}: {self.message}"


# ---------------------------------------------------------------------------------------
# Chains from plain data (parsed JSON / YAML)
# ---------------------------------------------------------------------------------------

_STEP_TYPES = {
    "llm": LLMStep,
    "function": FunctionStep,
    "tool": ToolStep,
    "conditional": ConditionalStep,
    "parallel": ParallelStep,
    "loop": LoopStep,
}
_RENAMED = {"conditional": {"then": "then_steps", "else": "else_steps"}, "loop": {"break": "break_condition"}}


class _DefinitionError(Exception):
    pass


def _condition_from(data):
    if not isinstance(data, Mapping):
        raise _DefinitionError(f"a condition must be an object, got {type(data).__name__}")
    if "left" in data:
        extra = set(data) - {"left", "op", "right"}
        if extra:
            raise _DefinitionError(f"unknown condition key(s) {sorted(extra)}")
        return Condition(data["left"], data.get("op", "truthy"), data.get("right"))
    if len(data) == 1:
        ((key, value),) = data.items()
        if key in ("all", "any") and isinstance(value, list):
            parts = [_condition_from(v) for v in value]
            return AllOf(*parts) if key == "all" else AnyOf(*parts)
        if key == "not":
            return Not(_condition_from(value))
    raise _DefinitionError(
        f"a condition is {{left, op, right}}, {{all: [...]}}, {{any: [...]}} or {{not: ...}}, got keys {sorted(data)}"
    )


def _dependency_from(data):
    if isinstance(data, str):
        return data
    if isinstance(data, Mapping):
        if set(data) == {"all"} or set(data) == {"any"}:
            ((kind, ids),) = data.items()
            if isinstance(ids, list):
                return Dependency.all(*ids) if kind == "all" else Dependency.any(*ids)
        if set(data) == {"step", "when"}:
            return Dependency.conditional(data["step"], _condition_from(data["when"]))
    raise _DefinitionError(f"a dependency is a step id, {{all: [...]}}, {{any: [...]}} or {{step, when}}, got {data!r}")


def _step_from(data) -> Step:
    if not isinstance(data, Mapping):
        raise _DefinitionError(f"a step must be an object, got {type(data).__name__}")
    kind = data.get("type")
    cls = _STEP_TYPES.get(kind)
    if cls is None:
        raise _DefinitionError(f"unknown step type {kind!r} (known: {', '.join(_STEP_TYPES)})")
    kwargs = {_RENAMED.get(kind, {}).get(k, k): v for k, v in data.items() if k != "type"}
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(kwargs) - fields)
    if unknown:
        raise _DefinitionError(f"unknown key(s) {unknown} for a {kind} step")
    if "depends_on" in kwargs:
        deps = kwargs["depends_on"]
        kwargs["depends_on"] = [_dependency_from(d) for d in ([deps] if isinstance(deps, (str, Mapping)) else deps)]
    for key in ("condition", "break_condition"):
        if kwargs.get(key) is not None:
            kwargs[key] = _condition_from(kwargs[key])
    if kind == "parallel":
        kwargs["branches"] = [_step_from(b) for b in kwargs.get("branches") or ()]
    if kind == "loop" and "body" in kwargs:
        kwargs["body"] = _step_from(kwargs["body"])
    if "id" not in kwargs:
        raise _DefinitionError("a step needs an id")
    try:
        return cls(**kwargs)
    except TypeError as exc:  # a required field is missing
        raise _DefinitionError(str(exc).replace("__init__() ", "")) from None


def chain_from_dict(data: Mapping[str, Any]) -> Chain:
    """A Chain from plain data (parsed JSON/YAML); ChainValidationError lists every malformed
    part at once. The result still goes through ``validate`` (graph, references, ...).

    ``{"id", "name"?, "description"?, "variables": [{"name", "required"?, "default"?}],
    "outputs": {name: template}, "steps": [{"id", "type": llm|function|tool|conditional|
    parallel|loop, ...the step's fields; conditional: "then"/"else"; loop: "break"}]}``
    """
    if not isinstance(data, Mapping):
        raise ChainValidationError([Problem(None, "bad_definition", "a chain definition must be an object")])
    problems: list[Problem] = []
    unknown = sorted(set(data) - {"id", "name", "description", "variables", "outputs", "steps"})
    if unknown:
        problems.append(Problem(None, "bad_definition", f"unknown chain key(s) {unknown}"))
    steps = []
    raw_steps = data.get("steps")
    if not isinstance(raw_steps, list):
        problems.append(Problem(None, "bad_definition", "'steps' must be a list"))
        raw_steps = []
    for k, raw in enumerate(raw_steps):
        try:
            steps.append(_step_from(raw))
        except _DefinitionError as exc:
            sid = raw.get("id") if isinstance(raw, Mapping) and isinstance(raw.get("id"), str) else f"#{k}"
            problems.append(Problem(sid, "bad_definition", str(exc)))
    variables = []
    raw_vars = data.get("variables", [])
    if not isinstance(raw_vars, list):
        problems.append(Problem(None, "bad_definition", "'variables' must be a list"))
        raw_vars = []
    for raw in raw_vars:
        if isinstance(raw, Mapping) and "name" in raw and set(raw) <= {"name", "required", "default", "description"}:
            variables.append(Variable(**raw))
        else:
            problems.append(
                Problem(
                    None, "bad_definition", f"a variable is {{name, required?, default?, description?}}, got {raw!r}"
                )
            )
    outputs = data.get("outputs", {})
    if not isinstance(outputs, Mapping):
        problems.append(Problem(None, "bad_definition", "'outputs' must map result names to templates"))
        outputs = {}
    if problems:
        raise ChainValidationError(problems)
    return Chain(
        data.get("id", ""),
        steps,
        variables,
        outputs,
        name=data.get("name", ""),
        description=data.get("description", ""),
    )
