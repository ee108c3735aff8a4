"""The rules of the house, loaded and validated once per process: the matrix, the workflows,
the business calendar and the SLA policy."""

from __future__ import annotations

from dataclasses import dataclass

from itilflow.domain.calendar import BusinessCalendar
from itilflow.domain.raci import RaciMatrix, load_matrix
from itilflow.domain.sla import SlaPolicy, load_sla_policy
from itilflow.domain.workflow import Workflow, load_workflows
from itilflow.settings import Settings


@dataclass(frozen=True)
class Rules:
    matrix: RaciMatrix
    workflows: dict[str, Workflow]
    calendar: BusinessCalendar
    sla: SlaPolicy
    page_priorities: frozenset[str]

    def workflow(self, kind: str) -> Workflow:
        return self.workflows[kind]

    def kind_of_prefix(self, prefix: str) -> str | None:
        return next((w.kind for w in self.workflows.values() if w.prefix == prefix), None)


def load_rules(settings: Settings) -> Rules:
    """Raises ConfigError naming the broken file, entry and reason."""
    matrix = load_matrix(settings.config_dir / "raci.yaml")
    return Rules(
        matrix=matrix,
        workflows=load_workflows(settings.workflows_dir, matrix),
        calendar=BusinessCalendar.from_settings(
            timezone=settings.timezone, working_hours=settings.working_hours,
            holidays=settings.holidays, closed_days=settings.closed_days,
        ),
        sla=load_sla_policy(settings.config_dir / "sla.yaml"),
        page_priorities=settings.page_priority_set,
    )
