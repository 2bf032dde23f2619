"""The IntelliRouter chain engine: chain definitions, validation and execution.

A chain is a list of top-level steps wired by dependencies, plus declared variables and an
output mapping. Step kinds: LLM inference, function call, tool use, conditional, parallel
(inline branches run concurrently) and loop (an inline body run up to a bound or until a
break condition holds). Dependency kinds: simple (one step), all, any, conditional (one
step plus a condition on the values known at that point).

Values flow through ``{{name}}`` / ``{{name.key.0}}`` templates: ``name`` is a variable, a
top-level step id, or ``loop`` (``loop.index``, ``loop.item``, ``loop.previous``,
``loop.output``) inside a loop. A template that is exactly one placeholder yields the raw
value (a dict stays a dict); anything else renders to text.

Modules, each importing only those listed before it (no import cycle):

- ``model``: the definitions (steps, dependencies, conditions, variables, ``Chain``,
  ``Problem``) and ``chain_from_dict``;
- ``template``: templates and conditions, compiled once;
- ``registry``: the registries of the functions and tools that steps call;
- ``validate``: validation and planning (iterative graph code);
- ``engine``: model connectors, ``ChainEngine``, the scheduler and its results.

Validation has one entry point, ``check(chain, inputs)``: the execution ``Plan`` of a
valid chain, or ``ChainValidationError`` listing every problem. ``validate(chain, inputs)``
is not the same thing (it returns the problems as a list, ``[]`` when valid), so it is
kept as a public name and implemented by calling ``check``.

Everything a user needs is importable from here. The package attribute ``validate`` is
the function (re-exported below), not the submodule of the same name; the submodule's
other names are imported with ``from intellirouter.chain.validate import ...``.
"""

from intellirouter.chain.engine import (
    ChainEngine,
    ChainResult,
    Completion,
    CompletionRequest,
    Event,
    LocalConnector,
    ModelConnector,
    StepRecord,
)
from intellirouter.chain.model import (
    AllOf,
    AnyOf,
    Chain,
    Condition,
    ConditionalStep,
    Dependency,
    DependencyKind,
    FunctionStep,
    LLMStep,
    LoopStep,
    Not,
    ParallelStep,
    Problem,
    Step,
    StepKind,
    ToolStep,
    Variable,
    chain_from_dict,
)
from intellirouter.chain.registry import CallableRegistry
from intellirouter.chain.template import Template
from intellirouter.chain.validate import Plan, check, validate

__all__ = [
    "AllOf",
    "AnyOf",
    "CallableRegistry",
    "Chain",
    "ChainEngine",
    "ChainResult",
    "Completion",
    "CompletionRequest",
    "Condition",
    "ConditionalStep",
    "Dependency",
    "DependencyKind",
    "Event",
    "FunctionStep",
    "LLMStep",
    "LocalConnector",
    "LoopStep",
    "ModelConnector",
    "Not",
    "ParallelStep",
    "Plan",
    "Problem",
    "Step",
    "StepKind",
    "StepRecord",
    "Template",
    "ToolStep",
    "Variable",
    "chain_from_dict",
    "check",
    "validate",
]
