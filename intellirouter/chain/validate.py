"""Validation and planning of chains: one pass that finds every problem or builds the Plan.

``check`` is the entry point (a Plan, or ChainValidationError with every problem);
``validate`` returns the problems as a list; ``analyze`` is the pass behind both.
All graph code is iterative (Kahn's algorithm, iterative Tarjan, BFS), so a chain of any
length stays clear of the recursion limit. Complexity: O(V + E + T) for V steps (nested
ones included), E dependency edges and T template placeholders, plus O(k·(V + E)) to
report k cycles and, only when some placeholder names a step that is not a direct
dependency, O(V·E/64) word operations for ancestor bitsets.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from intellirouter.chain.model import (
    Chain,
    Dependency,
    DependencyKind,
    Problem,
    Step,
    StepKind,
    Variable,
)
from intellirouter.chain.template import (
    ID_PATTERN,
    Template,
    compile_condition,
    compile_value,
    value_templates,
)
from intellirouter.errors import ChainValidationError

RESERVED = frozenset({"loop"})


class Node:
    """A step compiled for execution (templates, conditions, children)."""

    __slots__ = (
        "step",
        "id",
        "kind",
        "prompt",
        "system",
        "args",
        "args_from",
        "condition",
        "children",
        "break_condition",
        "for_each",
        "in_loop",
        "templates",
    )

    def __init__(self, step: Step, in_loop: bool):
        self.step, self.id, self.kind, self.in_loop = step, step.id, step.kind, in_loop
        self.prompt = self.system = self.args = self.args_from = None
        self.condition = self.break_condition = self.for_each = None
        self.children: list[Node] = []
        self.templates: list[Template] = []


@dataclass
class Plan:
    """What the engine runs: top-level nodes by index, edges and gates, topological order."""

    chain: Chain
    ids: list[str]
    nodes: list[Node]
    succs: list[list[int]]
    preds: list[list[int]]
    gates: list[list[tuple]]  # per node: ("simple", p) ("all", ps) ("any", ps) ("cond", p, cc) ("branch", c, bool)
    order: list[int]
    outputs: dict[str, Template]
    defaults: dict[str, Any]
    variables: dict[str, Variable]

    @property
    def depth(self) -> int:
        """Length (in steps) of the longest dependency path: the critical path of the plan."""
        level = [1] * len(self.nodes)
        for i in self.order:
            for j in self.succs[i]:
                if level[i] + 1 > level[j]:
                    level[j] = level[i] + 1
        return max(level, default=0)


def _check_callable(step, kind, name, registry, args, has_dynamic, problems):
    """Static checks of a function/tool step against the registry (when one is given)."""
    if registry is None:
        return
    entry = registry.get(name)
    if entry is None:
        known = ", ".join(sorted(registry)) or "none registered"
        problems.append(Problem(step.id, f"unknown_{kind}", f"unknown {kind} {name!r} (known: {known})"))
        return
    accepted = getattr(entry, "accepted", None)
    if accepted is not None:
        for key in args:
            if key not in accepted:
                problems.append(Problem(step.id, "bad_argument", f"{kind} {name!r} takes no argument {key!r}"))
    if not has_dynamic:
        for key in getattr(entry, "required", ()):
            if key not in args:
                problems.append(Problem(step.id, "missing_argument", f"{kind} {name!r} needs argument {key!r}"))


def _compile_nodes(chain: Chain, problems: list, functions, tools):
    """Walk every step (nested ones too, with an explicit stack) into Nodes.

    Returns (top-level nodes, {step id: id of its top-level container})."""
    tops: list[Node] = []
    all_ids: dict[str, str] = {}  # step id -> id of its top-level container
    stack: list[tuple[Step, Node | None, str | None, bool]] = [(s, None, None, False) for s in reversed(chain.steps)]
    while stack:
        step, parent, top, in_loop = stack.pop()
        if not isinstance(step, Step) or not hasattr(step, "kind"):
            problems.append(Problem(top, "bad_step", f"not a step: {step!r}"))
            continue
        sid = step.id
        node = Node(step, in_loop)
        container = top if top is not None else sid
        if parent is None:
            tops.append(node)
        else:
            parent.children.append(node)
        if not isinstance(sid, str) or not sid.strip():
            problems.append(Problem(sid if isinstance(sid, str) else None, "empty_id", "step id is empty"))
        elif not ID_PATTERN.match(sid):
            problems.append(Problem(sid, "bad_id", "step id may hold only letters, digits, '_' and '-'"))
        elif sid in RESERVED:
            problems.append(Problem(sid, "reserved_name", f"'{sid}' is reserved for loop values"))
        elif sid in all_ids:
            problems.append(Problem(sid, "duplicate_step", "step id is used more than once"))
        else:
            all_ids[sid] = container
        if not isinstance(step.name, str) or not step.name.strip():
            problems.append(Problem(sid, "empty_name", "step name is empty"))
        if parent is not None and step.depends_on:
            problems.append(
                Problem(sid, "bad_dependency", f"nested in '{top}', so it cannot have its own dependencies")
            )
        _compile_step(step, node, problems, functions, tools, parent)
        kids = step.children()
        if kids:
            child_loop = in_loop or step.kind is StepKind.LOOP
            stack.extend([(c, node, container, child_loop) for c in reversed(kids)])
    return tops, all_ids


def _compile_step(step, node, problems, functions, tools, parent):
    """Compile one step's templates and conditions into ``node``, reporting bad settings."""
    kind = step.kind
    if kind is StepKind.LLM_INFERENCE:
        _compile_llm(step, node, problems)
    elif kind in (StepKind.FUNCTION_CALL, StepKind.TOOL_USE):
        _compile_call(step, node, problems, functions, tools)
    elif kind is StepKind.CONDITIONAL:
        _compile_conditional(step, node, problems, parent)
    elif kind is StepKind.PARALLEL:
        if not step.branches:
            problems.append(Problem(step.id, "empty_parallel", "parallel step has no branches"))
    elif kind is StepKind.LOOP:
        _compile_loop(step, node, problems)
    # Every template of the step itself, for the reference checks (the templates of its
    # dependency conditions are added when the dependencies are wired).
    for t in (node.prompt, node.system, node.args_from, node.for_each):
        if t is not None:
            node.templates.append(t)
    if node.args:
        node.templates.extend(value_templates(node.args))
    for cc in (node.condition, node.break_condition):
        if cc is not None:
            node.templates.extend(cc.templates())


def _compile_llm(step, node, problems):
    sid = step.id
    if not isinstance(step.prompt, str) or not step.prompt.strip():
        problems.append(Problem(sid, "empty_prompt", "LLM step has an empty prompt"))
    else:
        node.prompt = Template(step.prompt)
    if step.system is not None:
        node.system = Template(step.system)
    if not isinstance(step.max_tokens, int) or step.max_tokens < 1:
        problems.append(Problem(sid, "bad_setting", f"max_tokens must be a positive int, got {step.max_tokens!r}"))


def _compile_call(step, node, problems, functions, tools):
    """A function or tool step: its arguments, and its name checked against the registry."""
    sid = step.id
    is_tool = step.kind is StepKind.TOOL_USE
    name = step.tool if is_tool else step.function
    if not isinstance(step.args, Mapping):
        problems.append(Problem(sid, "bad_argument", "args must be a mapping of argument names"))
        node.args = {}
    else:
        node.args = compile_value(dict(step.args))
    dynamic = is_tool and step.args_from is not None
    if dynamic:
        node.args_from = Template(step.args_from)
    if not isinstance(name, str) or not name.strip():
        problems.append(Problem(sid, "empty_name", f"{'tool' if is_tool else 'function'} name is empty"))
    else:
        _check_callable(
            step,
            "tool" if is_tool else "function",
            name,
            tools if is_tool else functions,
            node.args,
            dynamic,
            problems,
        )


def _compile_conditional(step, node, problems, parent):
    sid = step.id
    if parent is not None:
        problems.append(
            Problem(sid, "bad_branch_target", "a conditional step must be top-level (its branches are top-level steps)")
        )
    node.condition = compile_condition(step.condition, problems, sid)


def _compile_loop(step, node, problems):
    sid = step.id
    bound = step.max_iterations
    if bound is not None and (not isinstance(bound, int) or isinstance(bound, bool) or bound < 1):
        problems.append(Problem(sid, "bad_loop", f"max_iterations must be a positive int, got {bound!r}"))
    if bound is None and step.for_each is None:
        problems.append(Problem(sid, "bad_loop", "loop needs max_iterations or for_each (a bound)"))
    if step.for_each is not None:
        node.for_each = Template(step.for_each)
    if step.break_condition is not None:
        node.break_condition = compile_condition(step.break_condition, problems, sid)
    if not isinstance(step.body, Step):
        problems.append(Problem(sid, "bad_loop", "loop body must be a step"))


def _kahn(n: int, succs: list[list[int]], indeg: list[int]) -> list[int]:
    indeg = indeg[:]
    queue = deque(i for i in range(n) if indeg[i] == 0)
    order = []
    while queue:
        i = queue.popleft()
        order.append(i)
        for j in succs[i]:
            indeg[j] -= 1
            if indeg[j] == 0:
                queue.append(j)
    return order


def _sccs(nodes: list[int], succs: list[list[int]]) -> list[list[int]]:
    """Iterative Tarjan over the given nodes (edges leaving the set are ignored)."""
    inset = set(nodes)
    index: dict[int, int] = {}
    low: dict[int, int] = {}
    onstack: set[int] = set()
    stack: list[int] = []
    out: list[list[int]] = []
    counter = 0
    for root in nodes:
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            v, pi = work.pop()
            if pi == 0:
                index[v] = low[v] = counter
                counter += 1
                stack.append(v)
                onstack.add(v)
            recurse = False
            edges = succs[v]
            while pi < len(edges):
                w = edges[pi]
                pi += 1
                if w not in inset:
                    continue
                if w not in index:
                    work.append((v, pi))
                    work.append((w, 0))
                    recurse = True
                    break
                if w in onstack:
                    low[v] = min(low[v], index[w])
            if recurse:
                continue
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    onstack.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                out.append(comp)
            if work:
                u = work[-1][0]
                low[u] = min(low[u], low[v])
    return out


def _cycle_through(v: int, members: set[int], succs: list[list[int]]) -> list[int]:
    """Shortest cycle through v inside its strongly connected component (BFS)."""
    parent = {v: -1}
    queue = deque([v])
    while queue:
        u = queue.popleft()
        for w in succs[u]:
            if w == v:
                path = [u]
                while path[-1] != v:
                    path.append(parent[path[-1]])
                path.reverse()
                return path + [v]
            if w in members and w not in parent:
                parent[w] = u
                queue.append(w)
    raise AssertionError("node of a strongly connected component lies on no cycle")


def find_cycles(n: int, succs: list[list[int]], indeg: list[int] | None = None) -> list[list[int]]:
    """Cycles (as closed paths) that together cover every node lying on any cycle.

    Kahn's algorithm leaves exactly the nodes on or downstream of a cycle; Tarjan splits
    those into strongly connected components; inside each non-trivial component a BFS from
    each still-uncovered node yields a shortest cycle through it. O(V + E) when acyclic,
    O(V + E + k·(V + E)) for k reported cycles otherwise.
    """
    if indeg is None:
        indeg = [0] * n
        for i in range(n):
            for j in succs[i]:
                indeg[j] += 1
    order = _kahn(n, succs, indeg)
    if len(order) == n:
        return []
    placed = set(order)
    rest = [i for i in range(n) if i not in placed]
    cycles = []
    for comp in sorted(_sccs(rest, succs), key=min):
        if len(comp) == 1 and comp[0] not in succs[comp[0]]:
            continue  # downstream of a cycle, not on one
        members = set(comp)
        covered: set[int] = set()
        for v in sorted(comp):
            if v not in covered:
                path = _cycle_through(v, members, succs)
                covered.update(path)
                cycles.append(path)
    return cycles


def analyze(
    chain, inputs: Mapping[str, Any] | None = None, *, functions=None, tools=None, check_inputs: bool = True
) -> tuple[list[Problem], Plan | None]:
    """Validate ``chain`` and, when it is valid, build its execution Plan.

    ``functions``/``tools`` are registries (name -> entry with optional ``required`` and
    ``accepted`` argument sets); when None those names are not checked. Problems come in
    a fixed order: chain, steps, dependencies and branches, cycles, variables, references,
    outputs, inputs.
    """
    if not isinstance(chain, Chain):
        return [Problem(None, "bad_chain", f"expected a Chain, got {type(chain).__name__}")], None
    problems = _chain_problems(chain)
    tops, all_ids = _compile_nodes(chain, problems, functions, tools)
    index: dict[str, int] = {}
    for i, node in enumerate(tops):
        index.setdefault(node.id, i)
    preds, gates = _wire(tops, index, all_ids, problems)
    succs, pred_lists, indeg = _adjacency(preds)
    order = _kahn(len(tops), succs, indeg)
    if len(order) != len(tops):
        for cyc in find_cycles(len(tops), succs, indeg):
            ids = [tops[k].id for k in cyc]
            problems.append(Problem(ids[0], "cycle", "dependency cycle: " + " -> ".join(ids), tuple(ids)))
    variables = _declared_variables(chain, all_ids, problems)
    _check_references(tops, index, all_ids, variables, preds, order, problems)
    outputs = _compile_outputs(chain, index, variables, problems)
    if check_inputs:
        problems.extend(input_problems(variables, inputs))
    if problems:
        return problems, None
    return problems, Plan(
        chain=chain,
        ids=[t.id for t in tops],
        nodes=tops,
        succs=succs,
        preds=pred_lists,
        gates=gates,
        order=order,
        outputs=outputs,
        defaults={v.name: v.default for v in variables.values() if not v.required or v.default is not None},
        variables=variables,
    )


def _chain_problems(chain: Chain) -> list[Problem]:
    problems = []
    if not isinstance(chain.id, str) or not chain.id.strip():
        problems.append(Problem(None, "empty_id", "chain id is empty"))
    if not chain.steps:
        problems.append(Problem(None, "empty_chain", "chain has no steps"))
    return problems


def _wire(tops: list[Node], index, all_ids, problems) -> tuple[list[dict[int, None]], list[list[tuple]]]:
    """Edges and gates between top-level steps, from dependencies and conditional branches.

    ``preds[j]`` is an insertion-ordered set (a dict) of j's predecessors; ``gates[j]`` the
    run-or-skip rules the scheduler evaluates for j (see ``Plan.gates``)."""
    preds: list[dict[int, None]] = [{} for _ in tops]
    gates: list[list[tuple]] = [[] for _ in tops]
    for i, node in enumerate(tops):
        if index.get(node.id) != i:
            continue  # duplicate id: already reported, keep the first definition
        for dep in node.step.depends_on:
            _wire_dependency(node, i, dep, index, all_ids, preds, gates, problems)
        if node.kind is StepKind.CONDITIONAL:
            _wire_branches(node, i, index, all_ids, preds, gates, problems)
    return preds, gates


def _wire_dependency(node: Node, i: int, dep, index, all_ids, preds, gates, problems) -> None:
    """One dependency of top-level step i: an edge from each listed step, then its gate
    (only when every listed step exists)."""
    sid = node.step.id
    if not isinstance(dep, Dependency) or not isinstance(dep.kind, DependencyKind):
        problems.append(Problem(sid, "bad_dependency", f"not a dependency: {dep!r}"))
        return
    if not dep.steps:
        problems.append(Problem(sid, "bad_dependency", f"{dep.kind.value} dependency lists no steps"))
        return
    if dep.kind in (DependencyKind.SIMPLE, DependencyKind.CONDITIONAL) and len(dep.steps) != 1:
        problems.append(
            Problem(sid, "bad_dependency", f"{dep.kind.value} dependency takes exactly one step, got {len(dep.steps)}")
        )
        return
    targets = []
    for target in dep.steps:
        j = index.get(target)
        if j is None:
            where = f" (nested in '{all_ids[target]}')" if target in all_ids else ""
            problems.append(Problem(sid, "missing_step", f"depends on missing step '{target}'{where}"))
        else:
            targets.append(j)
            preds[i][j] = None
    if len(targets) != len(dep.steps):
        return
    if dep.kind is DependencyKind.SIMPLE:
        gates[i].append(("simple", targets[0]))
    elif dep.kind is DependencyKind.ALL:
        gates[i].append(("all", tuple(targets)))
    elif dep.kind is DependencyKind.ANY:
        gates[i].append(("any", tuple(targets)))
    elif dep.condition is None:
        problems.append(Problem(sid, "bad_dependency", "conditional dependency has no condition"))
    else:
        cc = compile_condition(dep.condition, problems, sid)
        if cc is not None:
            gates[i].append(("cond", targets[0], cc))
            node.templates.extend(cc.templates())


def _wire_branches(node: Node, i: int, index, all_ids, preds, gates, problems) -> None:
    """Conditional step i runs before each branch target, which gets a branch gate."""
    step = node.step
    then_set = set(step.then_steps)
    for branch, targets in (("then", step.then_steps), ("else", step.else_steps)):
        for target in targets:
            j = index.get(target)
            problem = _branch_target_problem(step.id, branch, target, j, then_set, all_ids)
            if problem is not None:
                problems.append(problem)
            else:
                preds[j][i] = None  # implicit: a branch target runs after its conditional
                gates[j].append(("branch", i, branch == "then"))


def _branch_target_problem(step_id: str, branch: str, target, j, then_set, all_ids) -> Problem | None:
    if target == step_id:
        return Problem(step_id, "bad_branch_target", f"{branch} branch targets the step itself")
    if j is None:
        nested = f" (nested in '{all_ids[target]}')" if target in all_ids else ""
        return Problem(step_id, "bad_branch_target", f"{branch} branch targets missing step '{target}'{nested}")
    if branch == "else" and target in then_set:
        return Problem(step_id, "bad_branch_target", f"step '{target}' is in both the then and the else branch")
    return None


def _adjacency(preds: list[dict[int, None]]) -> tuple[list[list[int]], list[list[int]], list[int]]:
    """(successor lists, predecessor lists, in-degrees) from the predecessor sets."""
    n = len(preds)
    succs: list[list[int]] = [[] for _ in range(n)]
    indeg = [0] * n
    pred_lists = []
    for j in range(n):
        ps = list(preds[j])
        pred_lists.append(ps)
        indeg[j] = len(ps)
        for i in ps:
            succs[i].append(j)
    return succs, pred_lists, indeg


def _declared_variables(chain: Chain, all_ids, problems) -> dict[str, Variable]:
    """The chain's well-formed variables by name; the others are reported."""
    variables: dict[str, Variable] = {}
    for var in chain.variables:
        if not isinstance(var, Variable):
            problems.append(Problem(None, "bad_variable", f"not a Variable: {var!r}"))
            continue
        if not isinstance(var.name, str) or not ID_PATTERN.match(var.name):
            problems.append(Problem(None, "bad_variable", f"variable name {var.name!r} is empty or malformed"))
        elif var.name in RESERVED:
            problems.append(Problem(None, "reserved_name", f"variable '{var.name}' uses a reserved name"))
        elif var.name in variables:
            problems.append(Problem(None, "duplicate_variable", f"variable '{var.name}' is declared twice"))
        elif var.name in all_ids:
            problems.append(
                Problem(all_ids[var.name], "name_clash", f"variable '{var.name}' has the same name as a step")
            )
        else:
            variables[var.name] = var
    return variables


def _compile_outputs(chain: Chain, index, variables, problems) -> dict[str, Template]:
    """The output mapping as templates; a bare name ``x`` means ``{{x}}``."""
    outputs: dict[str, Template] = {}
    for out_name, source in chain.outputs.items():
        if not isinstance(out_name, str) or not out_name.strip():
            problems.append(Problem(None, "bad_output", f"output name {out_name!r} is empty"))
            continue
        if not isinstance(source, str):
            problems.append(Problem(None, "bad_output", f"output '{out_name}' must be a template string"))
            continue
        t = Template(source if "{{" in source else "{{" + source + "}}")
        for root, _ in t.refs:
            if root not in index and root not in variables:
                problems.append(
                    Problem(None, "bad_output", f"output '{out_name}' refers to unknown step or variable '{root}'")
                )
        outputs[out_name] = t
    return outputs


def input_problems(variables: Mapping[str, Variable], inputs: Mapping[str, Any] | None) -> list[Problem]:
    inputs = {} if inputs is None else inputs
    problems = []
    if not isinstance(inputs, Mapping):
        return [Problem(None, "bad_input", f"inputs must be a mapping, got {type(inputs).__name__}")]
    for var in variables.values():
        if var.required and var.default is None and var.name not in inputs:
            problems.append(Problem(None, "missing_variable", f"required variable '{var.name}' has no value"))
    for key in inputs:
        if key not in variables:
            problems.append(Problem(None, "unknown_input", f"input '{key}' is not a declared variable"))
    return problems


class _Ancestry:
    """Whether one top-level step is upstream of another. A direct predecessor answers at
    once; the ancestor bitsets are built on the first other question (most references
    name a direct dependency)."""

    __slots__ = ("preds", "order", "size", "bits")

    def __init__(self, preds, order, size: int):
        self.preds, self.order, self.size = preds, order, size
        self.bits: list[int] | None = None

    def upstream(self, src: int, dst: int) -> bool:
        if src in self.preds[dst]:
            return True
        bits = self.bits
        if bits is None:
            bits = self.bits = self._ancestor_bits()
        return bits[dst] == -1 or bool(bits[dst] >> src & 1)

    def _ancestor_bits(self) -> list[int]:
        # Kahn order places every ancestor of a placed node first; nodes on or below a
        # cycle are never placed and keep -1 (unknown: their cycle is reported instead)
        preds = self.preds
        bits = [-1] * self.size
        for k in self.order:
            acc = 0
            for p in preds[k]:
                acc |= bits[p] | (1 << p)
            bits[k] = acc
        return bits


def _check_references(tops, index, all_ids, variables, preds, order, problems):
    """Every placeholder must name a variable, ``loop`` inside a loop, or an upstream step."""
    ancestry = _Ancestry(preds, order, len(tops))
    for i, top in enumerate(tops):
        if index.get(top.id) != i:
            continue
        stack = [top]
        while stack:
            node = stack.pop()
            stack.extend(node.children)
            for t in node.templates:
                if t.malformed:
                    problems.append(
                        Problem(
                            node.id,
                            "bad_template",
                            f"malformed placeholder in {t.source[:60]!r} (use {{{{name}}}} or {{{{name.key}}}})",
                        )
                    )
                for root, _ in t.refs:
                    if root in variables:
                        continue  # visible everywhere
                    j = index.get(root, -1)
                    if j != i and j in preds[i] and root != "loop":
                        continue  # a direct dependency: upstream by definition
                    problem = _reference_problem(node, t, root, i, index, all_ids, ancestry)
                    if problem is not None:
                        problems.append(problem)


def _reference_problem(node: Node, t: Template, root: str, i: int, index, all_ids, ancestry) -> Problem | None:
    """What is wrong with ``{{root...}}`` in template ``t`` of ``node`` (inside top-level
    step i), or None; ``root`` is neither a variable nor a direct dependency of step i."""
    if root == "loop":
        if node.in_loop or (node.kind is StepKind.LOOP and t in _loop_own(node)):
            return None
        return Problem(node.id, "bad_reference", "'loop' is only defined inside a loop")
    if root in index:
        j = index[root]
        if j == i:
            return Problem(node.id, "bad_reference", f"refers to its own output '{root}'")
        if not ancestry.upstream(j, i):
            return Problem(
                node.id,
                "bad_reference",
                f"refers to step '{root}' which is not upstream (add a dependency on '{root}')",
            )
        return None
    if root in all_ids:
        return Problem(
            node.id, "bad_reference", f"refers to nested step '{root}'; use '{{{{{all_ids[root]}.{root}}}}}'"
        )
    return Problem(node.id, "bad_reference", f"refers to unknown name '{root}'")


def _loop_own(node: Node) -> tuple:
    """The loop's own templates that may see ``loop`` (the break condition, not for_each)."""
    return tuple(node.break_condition.templates()) if node.break_condition is not None else ()


def check(
    chain,
    inputs: Mapping[str, Any] | None = None,
    *,
    functions=None,
    tools=None,
    check_inputs: bool = True,
) -> Plan:
    """The execution Plan of a valid chain, or ChainValidationError listing every problem.

    The one validation entry point: ``validate`` and the engine go through it.
    ``functions``/``tools`` (name -> registered callable, e.g. ``engine.functions``) also
    check the names and argument names of function and tool steps; ``check_inputs=False``
    checks the structure only (a Plan compiled once, run with different inputs).
    """
    problems, plan = analyze(chain, inputs, functions=functions, tools=tools, check_inputs=check_inputs)
    if problems:
        raise ChainValidationError(problems)
    return plan


def validate(chain, inputs: Mapping[str, Any] | None = None, *, functions=None, tools=None) -> list[Problem]:
    """Every problem of ``chain`` (with ``inputs`` for required variables), at once; [] if valid.

    ``check`` reporting its problems as a list instead of raising them."""
    try:
        check(chain, inputs, functions=functions, tools=tools)
    except ChainValidationError as exc:
        return exc.problems
    return []
