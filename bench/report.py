"""Printing the results: one table row per figure beside its limit, the aims, and the JSON."""

from __future__ import annotations

import json
import os
import textwrap
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.scenarios import DepositRun
from bench.sqlite_limit import CommitRate
from bench.wrk import WrkResult

AIM_BIND, AIM_STATUS, AIM_DEPOSITS = 1_000.0, 5_000.0, 500.0
# The Go teller on this machine class (issue 15: same config, wrk on loopback, 2 cores), and
# the goal as a multiple of it; printed for reference beside this run's figures.
GO_TELLER = {"bind": 1_277.0, "status": 13_075.0, "config": 28_080.0, "status_many": 202.0}
GO_P99_MS = {"bind": 10.6, "status": 8.0, "config": None, "status_many": 301.0}
GO_GOAL = {"bind": 2.0, "status": 1.2, "config": 1.0, "status_many": 1.0}
BUSY_MACHINE = 0.15  # other processes' CPU (in cores) above which a run is flagged
BARE = "bare ASGI JSON endpoint req/s"
DURABLE = "durable SQLite commits/s"
WIDTH = 100


@dataclass
class Row:
    key: str
    label: str
    value: float  # per second
    unit: str
    limit_label: str
    limit: float  # per second, measured in the same run
    aim: float | None = None  # per second; None for an informational row
    teller_cpu: float | None = None  # CPU used by teller during the run, in cores
    wrk_cpu: float | None = None  # CPU used by the load generator, in cores
    other_cpu: float | None = None  # CPU used by every other process meanwhile, in cores
    notes: list[str] = field(default_factory=list)
    p99_ms: float | None = None

    @property
    def go(self) -> float | None:
        """The Go teller's figure of issue 15, for reference (None: not measured there)."""
        return GO_TELLER.get(self.key)

    @property
    def go_goal_met(self) -> bool | None:
        if self.go is None:
            return None
        return self.value >= self.go * GO_GOAL[self.key]

    @property
    def ratio(self) -> float:
        return self.value / self.limit if self.limit else 0.0

    @property
    def met(self) -> bool | None:
        return None if self.aim is None else self.value >= self.aim

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(ratio=round(self.ratio, 4), met=self.met, go=self.go)
        if self.go is not None:
            data.update(
                go_p99_ms=GO_P99_MS[self.key],
                vs_go=round(self.value / self.go, 4),
                go_goal=GO_GOAL[self.key],
                go_goal_met=self.go_goal_met,
            )
        return data


@dataclass
class Results:
    """Everything one `make bench` measured."""

    source: str  # teller's commit (+dirty)
    generator: str  # the load generator and its settings
    load_before: float  # 1-minute load average when the bench started
    commits: CommitRate
    cli_count: int
    cli_seconds: float
    startup_seconds: float
    baseline: WrkResult
    binds: WrkResult
    config: WrkResult
    status: WrkResult
    status_many: WrkResult
    deposits: DepositRun
    processes: int = 1  # teller's web.processes
    backend: str = "SQLite"

    def runs(self) -> dict[str, WrkResult]:
        return {
            "baseline": self.baseline,
            "bind": self.binds,
            "config": self.config,
            "status": self.status,
            "status_many": self.status_many,
            "deposit_intake": self.deposits.posting,
        }

    def rows(self) -> list[Row]:
        deposits = self.deposits
        timed_out = (
            [f"timed out: {deposits.done}/{deposits.count} done"] if deposits.timed_out else []
        )
        commits = self.commits.rate
        return [
            _wrk_row("bind", "bind     POST /api/bind  req/s", self.binds, DURABLE, commits,
                     AIM_BIND),
            _wrk_row("status", "status, 5 bindings  req/s", self.status, BARE,
                     self.baseline.rate, AIM_STATUS),
            _wrk_row("status_many", "status, 2000 bindings req/s", self.status_many, BARE,
                     self.baseline.rate, None),
            Row(key="deposits", label="deposits to done /s", value=deposits.rate,
                unit="deposits/s", limit_label=DURABLE, limit=commits, aim=AIM_DEPOSITS,
                notes=deposits.posting.problems() + deposits.notes + timed_out,
                **_cpu(deposits.posting)),
            _wrk_row("deposit_intake", "(info) deposit intake req/s", deposits.posting,
                     DURABLE, commits, None),
            _wrk_row("config", "GET /api/config req/s", self.config, BARE,
                     self.baseline.rate, None),
        ]  # fmt: skip


def _cpu(result: WrkResult) -> dict[str, float]:
    return {
        "teller_cpu": result.server_cpu_share,
        "wrk_cpu": result.wrk_cpu_share,
        "other_cpu": result.other_cpu_share,
    }


def _wrk_row(key: str, label: str, result: WrkResult, limit_label: str, limit: float,
             aim: float | None) -> Row:  # fmt: skip
    return Row(
        key=key, label=label, value=result.rate, unit="req/s", limit_label=limit_label,
        limit=limit, aim=aim, notes=result.problems(), p99_ms=result.p99_us / 1000,
        **_cpu(result),
    )  # fmt: skip


def _cores(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f}%"


def _number(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def table(rows: list[Row]) -> str:
    head = (
        f"{'figure':<29} {'value':>7} {'p99ms':>6} | {'limit (same run)':<30} {'value':>7} |"
        f" {'ratio':>5} | {'Go':>6} {'p99ms':>5} {'vs Go':>5} {'goal':>4} |"
        f" {'teller':>6} {'wrk':>4} {'other':>5}"
    )
    lines = [head, "-" * len(head)]
    for row in rows:
        vs_go = None if row.go is None else row.value / row.go
        goal = GO_GOAL.get(row.key)
        lines.append(
            f"{row.label:<29} {row.value:>7.0f} {_number(row.p99_ms, '.1f'):>6} |"
            f" {row.limit_label:<30} {row.limit:>7.0f} | {row.ratio:>5.2f} |"
            f" {_number(row.go, '.0f'):>6} {_number(GO_P99_MS.get(row.key), '.1f'):>5}"
            f" {_number(vs_go, '.2f'):>5} {_number(goal, '.1f'):>4} |"
            f" {_cores(row.teller_cpu):>6} {_cores(row.wrk_cpu):>4} {_cores(row.other_cpu):>5}"
        )
    return "\n".join(lines)


def aim_lines(rows: list[Row]) -> list[str]:
    lines = []
    for row in rows:
        if row.go is not None:
            verdict = "met" if row.go_goal_met else "NOT MET"
            lines.append(
                f"goal {row.key}: >= {GO_GOAL[row.key]:g} x the Go teller's {row.go:,.0f}/s"
                f" (issue 15's machine): {verdict} ({row.value / row.go:.2f} x)"
            )
    for row in rows:
        if row.aim is None:
            continue
        verdict = "met" if row.met else "NOT MET"
        lines.append(
            f"aim {row.key}: >= {row.aim:,.0f} {row.unit}: {verdict}"
            f" ({row.value:,.0f} {row.unit}, {row.value / row.aim:.0%} of the aim)"
        )
    return lines


def busy_machine_note(runs: dict[str, WrkResult]) -> str | None:
    """One warning naming the runs during which other processes used much CPU."""
    busy = {name: r.other_cpu_share for name, r in runs.items() if r.other_cpu_share > BUSY_MACHINE}
    if not busy:
        return None
    shares = ", ".join(f"{name} {share:.0%}" for name, share in busy.items())
    return (
        f"busy machine: other processes used CPU during these runs ({shares} of a core);"
        " the figures are lower than on an idle machine: run again when it is quiet"
    )


def render(results: Results) -> str:
    rows = results.rows()
    deposits = results.deposits
    cpus = os.cpu_count()
    baseline = results.baseline
    paragraphs = [
        f"teller bench: teller {results.source}, {cpus} CPUs, load average before"
        f" {results.load_before:.2f}; {results.processes} API processes"
        f" (web.processes), {results.backend}",
        f"load generator: {results.generator}, Lua scripts in bench/lua/; a figure and its"
        " baseline are driven by the same generator",
        f"teller addresses btc SEED {results.cli_count}: {results.cli_seconds:.2f} s wall",
        f"deposits: {deposits.done}/{deposits.count} done in {deposits.seconds:.2f} s from the"
        f" first post (sent by {deposits.method}). Its ratio is deposits/s per durable commit/s:"
        " each deposit has a share of the intake's, processor's and sender's group commits,"
        " so 1.0 would mean as many deposits done as fsync-ed commits could be made alone.",
        "Go: the Go teller's figure and p99 in issue 15 (its machine class, not this run);"
        " goal: the multiple of it issue 15 asks for. bind runs with 10 connections, status"
        " and config with 20 (as the Go teller was measured).",
        f"CPU columns: cores used during the run by teller, wrk and every other process"
        f" (100% = one core of {cpus}); the bare ASGI app used {baseline.server_cpu_share:.0%}"
        f" (wrk {baseline.wrk_cpu_share:.0%}, other {baseline.other_cpu_share:.0%}).",
    ]
    notes = [f"note {row.key}: {note}" for row in rows for note in row.notes]
    busy = busy_machine_note(results.runs())
    if busy:
        notes.append(f"note {busy}")
    lines = [textwrap.fill(p, WIDTH, subsequent_indent="  ") for p in paragraphs[:2]]
    lines += ["", table(rows), ""]
    lines += [textwrap.fill(p, WIDTH, subsequent_indent="  ") for p in paragraphs[2:] + notes]
    lines += ["", *aim_lines(rows)]
    return "\n".join(lines)


def as_json(results: Results, when: str, machine: dict[str, Any]) -> dict[str, Any]:
    deposits = results.deposits
    return {
        "when": when,
        "teller_source": results.source,
        "machine": {**machine, "load_average_before": results.load_before},
        "load_generator": results.generator,
        "limits": {
            "durable_sqlite_commits_per_s": results.commits.rate,
            "durable_sqlite_commits": results.commits.commits,
            "bare_asgi_json_req_per_s": results.baseline.rate,
        },
        "figures": {row.key: row.as_json() for row in results.rows()},
        "aims": {r.key: {"aim": r.aim, "met": r.met} for r in results.rows() if r.aim},
        "runs": {
            name: {**vars(r), "rate": r.rate, "elapsed": r.elapsed}
            for name, r in results.runs().items()
        },
        "deposits": {
            "count": deposits.count,
            "done": deposits.done,
            "method": deposits.method,
            "seconds": deposits.seconds,
            "timed_out": deposits.timed_out,
        },
        "teller_addresses_cli": {"count": results.cli_count, "seconds": results.cli_seconds},
        "teller_startup_seconds": results.startup_seconds,
        "processes": results.processes,
        "backend": results.backend,
    }


def write_json(path: Path, document: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n")
