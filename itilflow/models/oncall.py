"""On-call schedules (rotation, iCal text, overrides); escalation levels may name one."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from itilflow.models.base import Base


class OncallSchedule(Base):
    __tablename__ = "oncall_schedules"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    timezone: Mapped[str] = mapped_column(String(64))
    #: {people: [...], handover_weekday, handover_minute, weeks, start: "YYYY-MM-DD"} or None
    rotation: Mapped[dict | None]
    #: the iCalendar text as given (events name the person on call)
    ical: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    overrides: Mapped[list[OncallOverride]] = relationship(
        order_by="OncallOverride.id", cascade="all, delete-orphan", lazy="selectin")


class OncallOverride(Base):
    """``person`` is on call from ``start_at`` to ``end_at`` whatever the rotation or iCal say."""

    __tablename__ = "oncall_overrides"

    id: Mapped[int] = mapped_column(primary_key=True)
    schedule_id: Mapped[int] = mapped_column(ForeignKey("oncall_schedules.id", ondelete="CASCADE"),
                                             index=True)
    person: Mapped[str] = mapped_column(String(200))
    start_at: Mapped[datetime]
    end_at: Mapped[datetime]
