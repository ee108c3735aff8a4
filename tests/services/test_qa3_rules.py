"""QA3 findings 2, 4 and 6, through the services on real databases.

2. The working party never confirms its own work as "reporter": a supplier, SIT agent or
   customer agent who raised a ticket and works it (R) does not close it by `confirm`; its A
   closes it. The reporter's side (a reporter, or staff of a party that does not work it) still
   confirms.
4. The reporter's side is told when its incident is resolved or its request fulfilled: the
   ticket waits for its confirm. One notice per party, however many reasons it has.
6. The supplier attached to the ticket's system is mailed what its customer is told as R (work
   in the customer's queue), in a mail of its own; never the customer's I, C or A notices, and
   never about a system it is not attached to.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import timedelta
from email import message_from_bytes, policy

import pytest
from sqlalchemy import select

from itilflow.domain import access
from itilflow.domain.errors import NotPermitted
from itilflow.i18n import translate
from itilflow.jobs.context import JobContext, smtp_sender
from itilflow.jobs.relay import Relay
from itilflow.models import OutboxMessage, Ticket
from itilflow.services import notifications, requests, ticket_pages, tickets
from tests.changes.common import fire, notices
from tests.conftest import WORK_TIME
from tests.paging.conftest import drain

NOW = WORK_TIME
WORKING_PARTY = (
    'Whoever works this ticket may not use "Confirm resolution" on it, even where they reported '
    "it: the reporting side accepts the work, and the managers of the accountable party close "
    "it.")


def submit(session, rules, world, email="rep@gst.test", **fields):
    user, ctx = world.actor(session, email)
    data = {"system": "kort", "environment": "production", "title": "Map tiles time out",
            "description": "GetMap requests time out.", "impact": 3, "urgency": 3, **fields}
    return tickets.submit_incident(session, rules, user, ctx, data, now=NOW)


def request(session, rules, world, email="rep@gst.test", **fields):
    user, ctx = world.actor(session, email)
    data = {"system": "kort", "environment": "production", "layer": "operating_system",
            "activity": "restore", "title": "Restore /srv/data to 02:00", **fields}
    return requests.submit_request(session, rules, user, ctx, data, now=NOW)


def offered(session, rules, world, email, ticket):
    """``available_transitions`` for one ticket, checked against the page's answer."""
    _, ctx = world.actor(session, email)
    one = tickets.available_transitions(session, rules, ctx, ticket)
    assert ticket_pages.available_transitions_many(session, rules, ctx, [ticket])[ticket.id] == one
    return one


# --- 2: the working party does not confirm its own work -------------------------------------

@pytest.mark.parametrize(("worker", "layer", "manager"), [
    ("sup@supplier.test", "application", "boss@gst.test"),  # a supplier, for its customer
    ("agent@sit.test", "operating_system", "boss@sit.test"),
    ("agent@gst.test", "application", "boss@gst.test"),
])
def test_who_raised_and_resolved_it_cannot_confirm_it(session, rules, world, worker, layer,
                                                      manager):
    ticket = submit(session, rules, world, email=worker, layer=layer)
    assert ticket.reporter.email == worker
    fire(session, rules, world, worker, ticket, "resolve", resolution="Restarted it.")
    assert ticket.state == "resolved"
    found = offered(session, rules, world, worker, ticket)
    assert "confirm" not in found and "reject" not in found
    version = ticket.version
    with pytest.raises(NotPermitted) as refused:
        fire(session, rules, world, worker, ticket, "confirm")
    assert refused.value.status == 403 and refused.value.message == WORKING_PARTY
    assert (ticket.state, ticket.version) == ("resolved", version)
    # the accountable party's manager closes it
    assert "close" in offered(session, rules, world, manager, ticket)
    fire(session, rules, world, manager, ticket, "close")
    assert ticket.state == "closed"


def test_the_refusal_reads_in_danish():
    danish = translate("da", WORKING_PARTY)
    assert danish == (
        'Den, der arbejder med sagen, må ikke bruge "Bekræft løsningen" på den, heller ikke når '
        "de selv meldte den: den meldende side godkender arbejdet, og lederne hos den part, der "
        "har det endelige ansvar, lukker sagen.")
    assert access.NOT_FOR_WORKING_PARTY % {"action": "Confirm resolution"} == WORKING_PARTY


def test_the_reporters_side_still_confirms(session, rules, world):
    # a reporter of the customer, on an application incident its own organisation works
    ticket = submit(session, rules, world, layer="application")
    fire(session, rules, world, "sup@supplier.test", ticket, "resolve", resolution="Fixed.")
    assert "confirm" in offered(session, rules, world, "rep@gst.test", ticket)
    fire(session, rules, world, "rep@gst.test", ticket, "confirm")
    assert ticket.state == "closed"
    # the customer's agent who raised an OS incident: SIT works it, the customer accepts it
    ticket = submit(session, rules, world, email="agent@gst.test", layer="operating_system")
    fire(session, rules, world, "agent@sit.test", ticket, "resolve", resolution="Disk freed.")
    assert {"confirm", "reject"} <= set(offered(session, rules, world, "agent@gst.test", ticket))
    fire(session, rules, world, "agent@gst.test", ticket, "confirm")
    assert ticket.state == "closed"


def test_a_sit_agent_may_not_confirm_a_request_it_raised_and_fulfilled(session, rules, world):
    req = request(session, rules, world, email="agent@sit.test")
    fire(session, rules, world, "agent@sit.test", req, "start_work")
    fire(session, rules, world, "agent@sit.test", req, "fulfil", resolution="Restored.")
    assert "confirm" not in offered(session, rules, world, "agent@sit.test", req)
    with pytest.raises(NotPermitted, match="Whoever works this ticket"):
        fire(session, rules, world, "agent@sit.test", req, "confirm")
    fire(session, rules, world, "boss@sit.test", req, "close")
    assert req.state == "closed"


# --- 4: the reporter's side is told that its ticket waits for its confirm -------------------

def test_resolving_an_application_incident_tells_the_reporter(session, rules, world):
    """QA3: raised without a layer, handed to the customer, worked by its supplier."""
    ticket = submit(session, rules, world)
    fire(session, rules, world, "agent@sit.test", ticket, "reclassify", layer="application")
    fire(session, rules, world, "sup@supplier.test", ticket, "start_work")
    fire(session, rules, world, "sup@supplier.test", ticket, "resolve", resolution="Cache fixed.")
    assert notices(session, ticket, "resolve") == [("customer", "resolve", False)]
    [row] = _rows(session, ticket, "resolve")
    assert row.payload["as"] == ["reporter"]
    assert "rep@gst.test" in _mailed(session, row)
    assert notifications.message_text(row.payload, rules).endswith('"Resolve"; it is now Resolved.')


def test_resolving_an_infrastructure_incident_tells_the_reporter(session, rules, world):
    ticket = submit(session, rules, world, layer="infrastructure")
    assert notices(session, ticket) == []  # the customer has no letter on infrastructure
    fire(session, rules, world, "agent@sit.test", ticket, "resolve", resolution="Switch swapped.")
    assert notices(session, ticket, "resolve") == [("customer", "resolve", False)]


def test_one_notice_per_party_however_many_reasons(session, rules, world):
    # OS incident: the customer is I and the reporter's side: one row, both reasons
    ticket = submit(session, rules, world, layer="operating_system")
    fire(session, rules, world, "agent@sit.test", ticket, "resolve", resolution="Disk freed.")
    [row] = _rows(session, ticket, "resolve")
    assert (row.payload["party"], row.payload["as"]) == ("customer", ["I", "reporter"])
    assert _mailed(session, row) == ["agent@gst.test", "boss@gst.test", "rep@gst.test"]
    # SIT's own OS incident: the customer (I) and SIT (the reporter's side), one row each
    ticket = submit(session, rules, world, email="agent2@sit.test", layer="operating_system")
    fire(session, rules, world, "agent@sit.test", ticket, "resolve", resolution="Disk freed.")
    assert sorted(notices(session, ticket, "resolve")) == [
        ("customer", "resolve", False), ("provider", "resolve", False)]


def test_fulfilling_a_request_tells_the_requester(session, rules, world):
    """An OS restore: the customer is I only on deviations (footnote 5), but it asked for it."""
    req = request(session, rules, world)
    fire(session, rules, world, "agent@sit.test", req, "start_work")
    fire(session, rules, world, "agent@sit.test", req, "fulfil", resolution="Restored.")
    assert notices(session, req, "fulfil") == [("customer", "fulfil", False)]
    [row] = _rows(session, req, "fulfil")
    assert row.payload["as"] == ["reporter"]


def test_a_resolve_from_the_pager_tells_the_reporter_too(session, rules, world):
    """A resolve without a person (the pager's) takes the workflow's notify point."""
    ticket = submit(session, rules, world, layer="infrastructure")
    tickets._notify_informed(session, rules, ticket, event="resolve", now=NOW, deviation=False,
                             actor=None)
    assert notices(session, ticket, "resolve") == [("customer", "resolve", False)]


# --- 6: the supplier hears what its customer is told as R -----------------------------------

def test_the_supplier_is_mailed_the_customers_work(session, rules, world):
    ticket = submit(session, rules, world)  # no layer: SIT triages
    [created] = _rows(session, ticket, "created")
    assert "sup@supplier.test" not in _mailed(session, created)  # the customer is only I
    fire(session, rules, world, "agent@sit.test", ticket, "reclassify", layer="application")
    [handed] = _rows(session, ticket, "reclassify")
    assert handed.payload["as"] == ["R"]
    assert _mailed(session, handed) == ["agent@gst.test", "boss@gst.test", "rep@gst.test",
                                        "sup@supplier.test"]
    fire(session, rules, world, "sup@supplier.test", ticket, "start_work")
    fire(session, rules, world, "sup@supplier.test", ticket, "wait_for_customer",
         comment="Which layer name?")
    [asked] = _rows(session, ticket, "wait_for_customer")  # the reporter's side is asked
    assert "sup@supplier.test" not in _mailed(session, asked)
    user, ctx = world.actor(session, "rep@gst.test")
    tickets.add_comment(session, rules, user, ctx, ticket.id, "The orthophoto layer.",
                        now=NOW + timedelta(minutes=5))
    [answered] = _rows(session, ticket, "customer_answered")
    assert "sup@supplier.test" in _mailed(session, answered)


def test_a_supplier_mail_never_shows_the_customers_addresses(session, rules, world):
    ticket = submit(session, rules, world)
    fire(session, rules, world, "agent@sit.test", ticket, "reclassify", layer="application")
    [handed] = _rows(session, ticket, "reclassify")
    _note, recipients = notifications.deliver_in_app(session, handed.message_id, handed.payload,
                                                     NOW, rules)
    mails = notifications.mails(handed.payload, recipients, rules,
                                lambda locale: lambda text, **v: translate(locale, text, **v))
    assert [m.to for m in mails] == [("agent@gst.test", "boss@gst.test", "rep@gst.test"),
                                     ("sup@supplier.test",)]
    # the supplier's words name the customer it works for (QA4 #7), not "your organisation"
    assert "handed over to your organisation" in mails[0].text
    assert "handed over to GST" in mails[1].text and "Kortforsyningen" in mails[1].text


def test_the_supplier_hears_nothing_of_other_systems_or_of_the_customers_c_and_a(
        session, rules, world):
    # arkiv: no supplier attached
    ticket = submit(session, rules, world, system="arkiv")
    fire(session, rules, world, "agent@sit.test", ticket, "reclassify", layer="application")
    [handed] = _rows(session, ticket, "reclassify")
    assert "sup@supplier.test" not in _mailed(session, handed)
    # kort: what the customer is told as C (a consultation), A (an SLA breach: its managers)
    # or I, and what the provider is told, never reaches the supplier
    ticket = submit(session, rules, world)
    fire(session, rules, world, "agent@sit.test", ticket, "reclassify", layer="application")
    [handed] = _rows(session, ticket, "reclassify")
    assert "sup@supplier.test" in _mailed(session, handed)
    for changed in ({"event": "consultation", "as": ["C"]}, {"event": "sla_breach", "as": ["A"]},
                    {"as": ["I"]}, {"as": []}, {"party": "provider", "as": ["R", "reporter"]}):
        assert "sup@supplier.test" not in _recipients(session, handed,
                                                      {**handed.payload, **changed}), changed


def test_a_supplier_who_reported_it_is_told_as_the_reporter(session, rules, world):
    ticket = submit(session, rules, world, email="sup@supplier.test", layer="operating_system")
    fire(session, rules, world, "agent@sit.test", ticket, "start_work")
    fire(session, rules, world, "agent@sit.test", ticket, "wait_for_customer",
         comment="Since when?")
    [asked] = _rows(session, ticket, "wait_for_customer")
    assert "sup@supplier.test" in _mailed(session, asked)
    fire(session, rules, world, "agent@sit.test", ticket, "resume")
    fire(session, rules, world, "agent@sit.test", ticket, "resolve", resolution="Disk freed.")
    [resolved] = _rows(session, ticket, "resolve")
    assert "sup@supplier.test" in _mailed(session, resolved)
    assert "confirm" in offered(session, rules, world, "sup@supplier.test", ticket)


def test_the_supplier_gets_its_own_mail_over_smtp(rt, world, smtp_server):
    """End to end: the relay mails the hand-over to the customer and, separately, to its
    supplier through a real SMTP server on loopback."""
    settings = replace(rt.settings, smtp_host="127.0.0.1", smtp_port=smtp_server.server_address[1])
    relay = Relay(JobContext(session_factory=rt.session_factory, rules=rt.rules,
                             settings=settings, send_mail=smtp_sender(settings)))
    with rt.session_factory() as s, s.begin():
        ticket = submit(s, rt.rules, world)
        fire(s, rt.rules, world, "agent@sit.test", ticket, "reclassify", layer="application")
        number = tickets.number_of(rt.rules, ticket)
    drain(relay, NOW + timedelta(minutes=10))
    sent = sorted((sorted(m["rcpt"]), str(message_from_bytes(m["data"], policy=policy.default)
                                          ["Subject"]).strip()) for m in smtp_server.mails)
    handed = f"[itilflow] {number} Map tiles time out: handed over to your organisation"
    assert (["sup@supplier.test"], f"[itilflow] {number} Map tiles time out: handed over to "
            "GST") in sent  # the customer by name in the supplier's mail (QA4 #7)
    assert (["agent@gst.test", "boss@gst.test", "rep@gst.test"], handed) in sent
    assert not any("sup@supplier.test" in rcpt and "agent@gst.test" in rcpt
                   for rcpt, _subject in sent)


def test_suppliers_still_have_no_inbox(session, world):
    _, ctx = world.actor(session, "sup@supplier.test")
    with pytest.raises(NotPermitted):
        notifications.inbox(session, ctx)


# --- helpers --------------------------------------------------------------------------------

def _rows(session, ticket: Ticket, event: str) -> list[OutboxMessage]:
    session.flush()
    return [r for r in session.scalars(select(OutboxMessage).where(
        OutboxMessage.topic == "notify", OutboxMessage.ticket_id == ticket.id)
        .order_by(OutboxMessage.id)) if r.payload["event"] == event]


def _mailed(session, row: OutboxMessage) -> list[str]:
    _note, recipients = notifications.deliver_in_app(session, row.message_id, row.payload, NOW)
    return sorted(r.email for r in recipients)


def _recipients(session, row: OutboxMessage, payload: dict) -> list[str]:
    """Whom a notice with ``payload`` would mail (delivered under a message id of its own)."""
    message_id = f"{row.message_id}-{uuid.uuid4().hex[:8]}"
    _note, recipients = notifications.deliver_in_app(session, message_id, payload, NOW)
    return sorted(r.email for r in recipients)
