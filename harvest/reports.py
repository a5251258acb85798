"""A run's report, as the API, the CLI and the staff page give it."""

from __future__ import annotations

from typing import Any

from harvest.models import HarvestRun, HarvestSource

COUNTS = ("fetched", "created", "updated", "unchanged", "deactivated", "invalid", "kept_local")


def run_report(run: HarvestRun) -> dict[str, Any]:
    return {
        "id": str(run.id),
        "source": run.source.name,
        "status": run.status,
        "trigger": run.trigger,
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        **{name: getattr(run, name) for name in COUNTS},
        "error": run.error,
        "problems": run.problems,
        "unmapped_terms": run.unmapped_terms,
    }


def source_summary(source: HarvestSource, last: HarvestRun | None) -> dict[str, Any]:
    return {
        "name": source.name,
        "label": source.label,
        "url": source.url,
        "kind": source.kind,
        "every_hours": source.every_hours,
        "enabled": source.enabled,
        "token_env": source.token_env,
        "next_run_at": source.next_run_at.isoformat() if source.next_run_at else None,
        "failures": source.failures,
        "running": source.running_since is not None,
        "last_run": run_report(last) if last else None,
    }
