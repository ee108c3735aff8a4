"""Background work: the outbox relay, the tasks it runs (pages, escalation timers,
notifications, SLA checks), the embedded runner and the ``itilflow worker`` loop.

Importing this package registers the paging hook (``itilflow.services.paging``)."""

from itilflow.jobs.context import JobContext, context_from_settings
from itilflow.jobs.relay import Relay
from itilflow.services import paging as _paging  # noqa: F401  (registers the ticket hook)

__all__ = ["JobContext", "Relay", "context_from_settings"]
