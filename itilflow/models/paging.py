"""Pager hooks, escalation levels, escalation runs, pages sent, in-app notifications and the
inbound webhook ids already seen (replay protection)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from itilflow.models.base import Base
from itilflow.models.oncall import OncallSchedule


class PagerHook(Base):
    __tablename__ = "pager_hooks"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    url: Mapped[str] = mapped_column(String(2000))
    format: Mapped[str] = mapped_column(String(20))  # pagerduty | generic
    #: Standard Webhooks secret, ``whsec_`` + base64 (signs generic pages, verifies inbound calls)
    secret: Mapped[str] = mapped_column(String(300))
    #: the secret a rotation replaced: it still signs and verifies until the time after it
    #: (the overlap window), then it counts for nothing and the next change clears it
    previous_secret: Mapped[str | None] = mapped_column(String(300))
    previous_secret_expires_at: Mapped[datetime | None]
    routing_key: Mapped[str | None] = mapped_column(String(200))
    #: False once retired (DELETE on a hook that paged): kept for its pages' history, but
    #: neither selectable for escalation levels nor trusted for inbound calls
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]


class EscalationLevel(Base):
    """One level of a system's escalation policy for a party: which hook, and how long after it
    is paged unacknowledged the next level is paged."""

    __tablename__ = "escalation_levels"
    __table_args__ = (UniqueConstraint("system_id", "party", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("systems.id", ondelete="CASCADE"))
    party: Mapped[str] = mapped_column(String(10))
    position: Mapped[int] = mapped_column(Integer)
    hook_id: Mapped[int] = mapped_column(ForeignKey("pager_hooks.id"), index=True)
    delay_seconds: Mapped[int] = mapped_column(Integer)
    #: the on-call schedule naming the person paged at this level (optional)
    schedule_id: Mapped[int | None] = mapped_column(
        ForeignKey("oncall_schedules.id", ondelete="SET NULL"), index=True)

    hook: Mapped[PagerHook] = relationship(lazy="joined")
    schedule: Mapped[OncallSchedule | None] = relationship(lazy="joined")


class Escalation(Base):
    """One run of paging for a ticket (a new run starts when the responsible party changes)."""

    __tablename__ = "escalations"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"),
                                           index=True)
    party: Mapped[str] = mapped_column(String(10))
    #: the ticket's escalation_token when the run started; an acknowledgement bumps the ticket's
    token: Mapped[int] = mapped_column(Integer)
    #: the levels as they were when the run started: [{position, hook_id, hook, delay_seconds}]
    levels: Mapped[list] = mapped_column(default=list)
    started_at: Mapped[datetime]
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(String(300))
    stopped_at: Mapped[datetime | None]
    stopped_reason: Mapped[str | None] = mapped_column(String(60))


class Page(Base):
    """One message to a pager (a trigger, acknowledge or resolve), and how its delivery went."""

    __tablename__ = "pages"

    id: Mapped[int] = mapped_column(primary_key=True)
    escalation_id: Mapped[int] = mapped_column(ForeignKey("escalations.id", ondelete="CASCADE"),
                                               index=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"),
                                           index=True)
    level: Mapped[int] = mapped_column(Integer)
    hook_id: Mapped[int] = mapped_column(ForeignKey("pager_hooks.id"), index=True)
    action: Mapped[str] = mapped_column(String(12))  # trigger | acknowledge | resolve
    dedup_key: Mapped[str] = mapped_column(String(100), index=True)
    #: the outbox row's message_id: the ``webhook-id`` on every attempt
    message_id: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(12), default="pending")  # pending|delivered|dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]
    #: the person on call (from the level's schedule) when the trigger was sent
    on_call: Mapped[str | None] = mapped_column(String(200))

    hook: Mapped[PagerHook] = relationship(lazy="joined")


class Notification(Base):
    """An in-app notification for an organisation's staff (an I party told of progress)."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id",
                                                            ondelete="CASCADE"))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"),
                                                  index=True)
    party: Mapped[str] = mapped_column(String(10))
    event: Mapped[str] = mapped_column(String(60))
    message: Mapped[str] = mapped_column(Text)
    #: the outbox row it came from: delivering it twice writes it once
    message_id: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    read_at: Mapped[datetime | None]


class InboundWebhook(Base):
    """A ``webhook-id`` accepted on POST /pager/events: the same id again is a replay."""

    __tablename__ = "inbound_webhooks"

    webhook_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    hook_id: Mapped[int] = mapped_column(ForeignKey("pager_hooks.id", ondelete="CASCADE"))
    received_at: Mapped[datetime]


Index("ix_notifications_org_id", Notification.organisation_id, Notification.id)
# the unread count (the top bar's badge) and "mark all read" read only unread rows, however long
# the read history grows
Index("ix_notifications_unread", Notification.organisation_id, Notification.id,
      postgresql_where=Notification.read_at.is_(None), sqlite_where=Notification.read_at.is_(None))
