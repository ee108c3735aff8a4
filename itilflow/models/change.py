"""Change management tables: standard-change templates, freeze periods and planned windows."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from itilflow.models.base import Base


class ChangeTemplate(Base):
    """A pre-approved standard change (e.g. an OS patch window). Its ``activity`` is the matrix
    row the change answers to (e.g. ``patch_management``), so routing and notices follow it."""

    __tablename__ = "change_templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    activity: Mapped[str] = mapped_column(String(60))
    layer: Mapped[str] = mapped_column(String(20))
    description: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]


class FreezePeriod(Base):
    """No changes wanted in this period (all customers, one customer, or one system)."""

    __tablename__ = "freeze_periods"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id",
                                                               ondelete="CASCADE"))
    system_id: Mapped[int | None] = mapped_column(ForeignKey("systems.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]


class ChangeWindow(Base):
    """The planned window of a change, kept in columns for the calendar and overlap checks."""

    __tablename__ = "change_windows"

    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"),
                                           primary_key=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("systems.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    planned_start: Mapped[datetime]
    planned_end: Mapped[datetime]


Index("ix_change_windows_start", ChangeWindow.planned_start, ChangeWindow.planned_end)
Index("ix_change_windows_system", ChangeWindow.system_id, ChangeWindow.planned_start)
Index("ix_freeze_periods_start", FreezePeriod.starts_at, FreezePeriod.ends_at)
