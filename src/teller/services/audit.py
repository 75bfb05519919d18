"""The audit's latest report for the admin API (`/api/audit`), the dashboard and /metrics.

Place in the flow: audit/loop.py runs in the worker role and keeps its last report in memory;
this module only reads that report (one call per route). A process without the audit (turned
off with `audit.interval = 0`, or not holding the worker role on PostgreSQL) says so.
"""

from __future__ import annotations

from typing import Any

from teller.audit.checks import KINDS
from teller.services.parts import Services


def audit_report(parts: Services) -> dict[str, Any]:
    """/api/audit: the latest report, or why there is none."""
    auditor = parts.audit
    if auditor is None:
        return {
            "enabled": False,
            "ran_at": None,
            "clean": None,
            "note": "the audit is off (audit.interval = 0)",
            "findings": [],
            "checks": [],
        }
    report = auditor.last
    base = {"enabled": True, "interval_seconds": int(auditor.interval_seconds)}
    if report is None:
        return base | {
            "ran_at": None,
            "clean": None,
            "note": "the audit has not run in this process yet (it runs in the process that"
            " holds the worker role)",
            "findings": [],
            "checks": [],
        }
    return base | {"note": ""} | report.as_dict()


def findings_by_kind(parts: Services) -> list[tuple[str, int]] | None:
    """Findings of the latest report per kind (every kind, 0 included); None: no report."""
    auditor = parts.audit
    if auditor is None or auditor.last is None:
        return None
    counts = auditor.last.findings_by_kind()
    return [(kind, counts.get(kind, 0)) for kind in KINDS]


def last_run(parts: Services) -> int | None:
    auditor = parts.audit
    return None if auditor is None or auditor.last is None else auditor.last.ran_at
