"""The fixed data set of March 2027, whose report was worked out by hand (see test_monthly_report).

Why March 2027: it has both a DST change (Sunday 28 March, 02:00 CET -> 03:00 CEST) and Danish
public holidays on working days (Maundy Thursday 25, Good Friday 26 and Easter Monday 29 March),
so one month pins both. (October 2026 and March 2026 have a DST change but no DK holiday.)

Rows are written directly (not through the workflow) so that every instant is exactly the one
the hand calculation uses; the outage correction goes through the service, as an agent's would.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from itilflow.domain.priority import priority_of
from itilflow.models import AccessLogEntry, Organisation, System, Ticket, User
from itilflow.models.paging import Escalation, Page, PagerHook
from itilflow.services import directory
from itilflow.services.history import append_event
from itilflow.web import access_capture

CPH = ZoneInfo("Europe/Copenhagen")
#: when the report is produced: a Monday after the month (and after Easter)
NOW = datetime(2027, 4, 5, 8, 0, tzinfo=UTC)


def local(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """A wall-clock time in Copenhagen as a UTC instant."""
    return datetime(year, month, day, hour, minute, tzinfo=CPH).astimezone(UTC)


class DataSet:
    def __init__(self, session) -> None:
        self.s = session
        self.orgs = {o.name: o for o in session.scalars(select(Organisation))}
        self.systems = {s.key: s for s in session.scalars(select(System))}
        self.users = {u.email: u for u in session.scalars(select(User))}
        self.numbers: dict[str, int] = {}

    def ticket(self, name: str, *, kind: str = "incident", system: str, created: datetime,
               env: str = "production", layer: str | None = None, impact: int = 3,
               urgency: int = 3, party: str = "provider", outage: bool = False,
               after_hours: bool = False, responded: datetime | None = None,
               acknowledged: datetime | None = None, resolved: datetime | None = None,
               closed: datetime | None = None, state: str | None = None,
               details: dict | None = None) -> Ticket:
        sys_row = self.systems[system]
        activity = {"incident": "incident_management", "problem": "problem_management",
                    "change": "change_management"}[kind]
        ticket = Ticket(
            kind=kind, state=state or ("resolved" if resolved else "new"), title=name,
            description="", system_id=sys_row.id, customer_id=sys_row.customer_id,
            environment=env, layer=layer, activity=activity, impact=impact, urgency=urgency,
            priority=priority_of(impact, urgency), responsible_party=party,
            accountable_party=party, on_request=False,
            reporter_id=self.users["rep@gst.test"].id, outage=outage, after_hours=after_hours,
            details=details or {}, sla_pauses=[], responded_at=responded,
            acknowledged_at=acknowledged, resolved_at=resolved, closed_at=closed,
            workflow_version="1", created_at=created, updated_at=created,
        )
        self.s.add(ticket)
        self.s.flush()
        append_event(self.s, ticket, kind="created", actor=None, now=created,
                     to_state="new", data={})
        self.numbers[name] = ticket.id
        return ticket

    def handover(self, ticket: Ticket, at: datetime, from_party: str, to_party: str) -> None:
        append_event(self.s, ticket, kind="handover", actor=None, now=at,
                     data={"from_party": from_party, "to_party": to_party})


def build_march(session) -> DataSet:
    d = DataSet(session)
    t = d.ticket
    # --- kort (GST, vagtordning): availability around the clock -------------------------
    k1 = t("K1", system="kort", created=local(2027, 2, 28, 22), impact=1, urgency=1,
           layer="infrastructure", outage=True, after_hours=True,
           responded=local(2027, 2, 28, 22, 5), resolved=local(2027, 3, 1, 2))
    d.handover(k1, local(2027, 2, 28, 22, 10), "provider", "customer")  # February: not counted
    t("K2", system="kort", created=local(2027, 3, 10, 10), impact=1, urgency=2,
      layer="infrastructure", outage=True, responded=local(2027, 3, 10, 10, 10),
      acknowledged=local(2027, 3, 10, 10, 10), resolved=local(2027, 3, 10, 12))
    t("K3", system="kort", created=local(2027, 3, 10, 11), impact=1, urgency=2,
      layer="infrastructure", outage=True, responded=local(2027, 3, 10, 11, 20),
      resolved=local(2027, 3, 10, 13))
    k4 = t("K4", system="kort", created=local(2027, 3, 28, 1, 30), impact=1, urgency=1,
           layer="infrastructure", outage=True, after_hours=True,
           responded=local(2027, 3, 28, 1, 40), acknowledged=local(2027, 3, 28, 1, 40),
           resolved=local(2027, 3, 28, 3, 30))
    k5 = t("K5", system="kort", created=local(2027, 3, 31, 23, 30), impact=1, urgency=1,
           layer="infrastructure", outage=True, after_hours=True,
           responded=local(2027, 3, 31, 23, 35), acknowledged=local(2027, 3, 31, 23, 35),
           resolved=local(2027, 4, 1, 1))
    k6 = t("K6", system="kort", env="test", created=local(2027, 3, 15, 10), impact=1,
           urgency=3, layer="operating_system", outage=True,
           responded=local(2027, 3, 15, 10, 30), resolved=local(2027, 3, 15, 11))
    d.handover(k6, local(2027, 3, 15, 10, 20), "provider", "customer")
    t("N2", system="kort", created=local(2027, 3, 3, 9), impact=3, urgency=2,
      layer="application", party="customer")
    # --- arkiv (GST, no vagtordning): availability in working time ----------------------
    r1 = t("R1", system="arkiv", created=local(2027, 3, 2, 7), impact=2, urgency=2,
           layer="middleware", party="customer", outage=True, after_hours=True,
           responded=local(2027, 3, 2, 8, 15), resolved=local(2027, 3, 2, 9, 30))
    d.handover(r1, local(2027, 3, 2, 8, 5), "provider", "customer")
    d.handover(r1, local(2027, 3, 2, 8, 10), "customer", "provider")
    d.handover(r1, local(2027, 3, 2, 8, 12), "provider", "customer")
    t("R2", system="arkiv", created=local(2027, 3, 24, 15), impact=2, urgency=2,
      layer="middleware", party="customer", outage=True,
      responded=local(2027, 3, 24, 15, 30), resolved=local(2027, 3, 25, 10))
    t("R3", system="arkiv", created=local(2027, 3, 25, 9), impact=2, urgency=3,
      outage=True, after_hours=True, responded=local(2027, 3, 25, 15),
      resolved=local(2027, 3, 25, 15))
    t("R0", system="arkiv", created=local(2027, 3, 20, 10), impact=2, urgency=3,
      state="cancelled", closed=local(2027, 3, 20, 10, 5))  # cancelled: counted, no SLA
    # --- ERST: only in the all-customers report -----------------------------------------
    t("V1", system="virk", created=local(2027, 3, 10, 9), impact=2, urgency=2,
      layer="operating_system", responded=local(2027, 3, 10, 9, 30))
    # --- changes ------------------------------------------------------------------------
    for name, ctype, outcome, state, created in [
        ("C1", "normal", "successful", "closed", local(2027, 3, 4, 10)),
        ("C2", "emergency", "failed", "review", local(2027, 3, 11, 22)),
        ("C3", "standard", "backed_out", "review", local(2027, 3, 12, 10)),
        ("C4", "emergency", None, "implementing", local(2027, 3, 30, 10)),
        ("C5", "normal", None, "cancelled", local(2027, 3, 16, 10)),
        ("C6", "normal", "successful", "closed", local(2027, 2, 27, 10)),  # February
    ]:
        details = {"change_type": ctype, **({"outcome": outcome} if outcome else {})}
        t(name, kind="change", system="kort", created=created, layer="operating_system",
          state=state, details=details)
    t("C7", kind="change", system="virk", created=local(2027, 3, 4, 10),
      layer="operating_system", state="new", details={"change_type": "normal"})
    # --- problems -----------------------------------------------------------------------
    t("Pa", kind="problem", system="kort", created=local(2027, 3, 5, 10), layer="middleware",
      state="known_error", details={"root_cause": "leak", "workaround": "restart nightly"})
    t("Pb", kind="problem", system="kort", created=local(2027, 3, 8, 10), layer="middleware",
      state="closed", resolved=local(2027, 3, 18, 10), closed=local(2027, 3, 20, 10))
    t("Pc", kind="problem", system="arkiv", created=local(2027, 2, 10, 10),
      layer="middleware", state="investigating", details={"workaround": "use the mirror"})
    t("Pd", kind="problem", system="arkiv", created=local(2027, 2, 1, 10), layer="middleware",
      state="closed", resolved=local(2027, 2, 25, 10), closed=local(2027, 3, 2, 10))
    t("Pe", kind="problem", system="arkiv", created=local(2027, 3, 9, 10), layer="middleware",
      state="cancelled", closed=local(2027, 3, 9, 11))
    # --- after-hours pages --------------------------------------------------------------
    hook = PagerHook(name="oncall", url="http://127.0.0.1:9/hook", format="generic",
                     secret="whsec_dGVzdA==", active=True, created_at=local(2027, 1, 1, 10))
    session.add(hook)
    session.flush()
    for n, (ticket, started, acked, levels) in enumerate([
        (k4, local(2027, 3, 28, 1, 30), local(2027, 3, 28, 1, 40), (1, 2)),
        (k5, local(2027, 3, 31, 23, 30), local(2027, 3, 31, 23, 35), (1,)),
    ]):
        run = Escalation(ticket_id=ticket.id, party="provider", token=0, levels=[],
                         started_at=started, acknowledged_at=acked)
        session.add(run)
        session.flush()
        for level in levels:
            session.add(Page(escalation_id=run.id, ticket_id=ticket.id, level=level,
                             hook_id=hook.id, action="trigger", dedup_key=f"d{n}",
                             message_id=f"page-{n}-{level}", status="delivered", attempts=1,
                             created_at=started))
        session.add(Page(escalation_id=run.id, ticket_id=ticket.id, level=1, hook_id=hook.id,
                         action="acknowledge", dedup_key=f"d{n}", message_id=f"page-{n}-ack",
                         status="delivered", attempts=1, created_at=acked))
    session.flush()
    return d


@pytest.fixture
def march(world, rt):
    session = rt.session_factory()
    data = build_march(session)
    session.commit()
    session.close()
    return data


# --- shared by the HTTP and access log tests ---------------------------------------------------

@pytest.fixture(autouse=True)
def _fresh_limits(request):
    """Each test starts with fresh rate-limit counters (the app lives for the whole session)
    and nothing remembered of earlier 404s (ids start again at 1 in each test)."""
    if "app" in request.fixturenames:
        request.getfixturevalue("app").extensions["itilflow_limiter"].reset()
    access_capture._not_found_seen.clear()
    yield


#: the users the report and access log tests call the API as
TOKEN_HOLDERS = ("rep@gst.test", "agent@sit.test", "agent@gst.test", "admin@sit.test",
                 "boss@sit.test", "boss@gst.test", "boss@erst.test", "rep@erst.test",
                 "sup@supplier.test")


@pytest.fixture
def tokens(rt, world) -> dict[str, str]:
    s = rt.session_factory()
    made = {email: directory.create_token(s, directory.user_by_email(s, email),
                                          now=datetime.now(UTC), name="test")
            for email in TOKEN_HOLDERS}
    s.commit()
    s.close()
    return made


def bearer(tokens: dict[str, str], email: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens[email]}"}


def entries(rt, **where) -> list[AccessLogEntry]:
    """The access log's entries in order, those whose columns equal ``where``."""
    s = rt.session_factory()
    query = select(AccessLogEntry).order_by(AccessLogEntry.seq)
    for key, value in where.items():
        query = query.where(getattr(AccessLogEntry, key) == value)
    rows = list(s.scalars(query))
    s.close()
    return rows


def api_incident(app, tokens: dict[str, str], email: str = "rep@gst.test") -> dict:
    """An incident raised through the API, as its JSON."""
    response = app.test_client().post("/api/v1/incidents", headers=bearer(tokens, email),
                                      json={"system": "kort", "environment": "production",
                                            "title": "Tiles time out", "impact": 2,
                                            "urgency": 2})
    assert response.status_code == 201, response.get_json()
    return response.get_json()
