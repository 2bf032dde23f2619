"""What one benchmark's profile produced, read back from the children's files."""

from __future__ import annotations

from dataclasses import dataclass, field

from tools.profiling.profiles import Profile, load_bytecodes, load_memory, load_time
from tools.profiling.runner import Plan, SideRun
from tools.profiling.targets import Target

METRICS = ("time", "bytecodes", "memory")


@dataclass
class SideResult:
    role: str  # base | head
    commit: str
    skipped: str | None = None  # why this side has no profile (setup skipped at this revision)
    profiles: dict[str, Profile] = field(default_factory=dict)
    machine: dict | None = None  # cachegrind: {calls, total, functions} per body call
    machine_skipped: str | None = None
    pstats: bytes | None = None  # cProfile's file as written (repository-relative labels)
    timing: dict = field(default_factory=dict)  # cProfile rounds: {rounds, kept, clean}


@dataclass
class ProfileResult:
    target: Target
    sides: dict[str, SideResult]
    plan: Plan | None
    seconds: float = 0.0  # wall time the whole profile took
    phases: dict[str, float] = field(default_factory=dict)  # wall seconds per step

    @property
    def compared(self) -> bool:
        """Both sides profiled: a differential report; otherwise one side's."""
        return all(role in self.sides and not self.sides[role].skipped for role in ("base", "head"))

    @property
    def shown(self) -> SideResult:
        """The side a single-revision report shows (head, else base)."""
        head = self.sides.get("head")
        return head if head is not None and not head.skipped else self.sides["base"]


def side_result(run: SideRun) -> SideResult:
    """Load the profiles a side's children wrote (nothing when the side was skipped)."""
    side = SideResult(run.side.role, run.side.commit, run.skipped, machine=run.machine)
    side.machine_skipped = run.machine_skipped
    if run.skipped or run.profile is None:
        return side
    calls = run.profile["calls"]
    side.timing = dict(run.profile.get("time") or {})
    side.pstats = (run.out / "time.pstats").read_bytes()  # kept: the children's folder goes
    side.profiles["time"] = load_time(run.out / "time.pstats", calls["time"])
    side.profiles["bytecodes"] = load_bytecodes(run.out / "bytecodes.json")
    if (run.out / "memory.json").is_file():
        side.profiles["memory"] = load_memory(run.out / "memory.json")
    return side
