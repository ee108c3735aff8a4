"""QA4 findings 7, 8, 9 and two of 12, through the services and a real SMTP server on loopback,
on real databases.

7. A supplier told of a hand-over to its customer reads that the ticket went to the customer
   (whose work it does on the system), not to "your organisation".
8. "Change priority" to the same impact and urgency is refused (422) and changes nothing.
9. A new priority is told to the reporter's side and the I parties: old and new priority, why.
12. /account refuses the current password as the new one; nobody is mailed of their own step
    (the organisation's in-app row stays: the inbox is shared).
"""

from __future__ import annotations

import html

import pytest
from sqlalchemy import select

from itilflow.domain.errors import ValidationError
from itilflow.i18n import translate
from itilflow.models import Organisation, OutboxMessage, Ticket
from itilflow.models.paging import Notification
from itilflow.services import accounts, directory, tickets
from tests.conftest import PASSWORD, WORK_TIME, set_locales
from tests.paging.conftest import fire, raise_incident
from tests.web.conftest import csrf_of, sign_in

NOW = WORK_TIME  # working time: a P1 here pages nobody, the tests are about the mail
TITLE = "Map tiles time out"


@pytest.fixture
def mailer(mail_reader):
    """The mails sent since the last call, as (recipients, subject, text)."""
    return lambda: [(rcpt, subject, text) for rcpt, _to, subject, text in mail_reader(NOW)]


def _state(rt, number):
    """What a refused step must leave alone: the ticket's row, its history, its outbox."""
    with rt.session_factory() as s:
        ticket = s.scalar(select(Ticket).where(Ticket.id == int(number.split("-")[1])))
        return ((ticket.impact, ticket.urgency, ticket.priority, ticket.version,
                 ticket.sla_due_at), len(tickets.events_of(s, ticket)),
                len(list(s.scalars(select(OutboxMessage.id)))))


# --- 7. a supplier's mail about a hand-over names the customer ----------------------------

@pytest.mark.parametrize(("locale", "subject", "text"), [
    ("en", "handed over to GST",
     "{number} " + TITLE + " was handed over to GST by agent@sit.test (\"Reclassify layer\"): "
     "you work for it on Kortforsyningen. Comment: \"The WMS application fails.\""),
    ("da", "overdraget til GST",
     "{number} " + TITLE + " er overdraget til GST af agent@sit.test (\"Omklassificér lag\"): "
     "I arbejder for dem på Kortforsyningen. Kommentar: \"The WMS application fails.\""),
])
def test_a_suppliers_hand_over_mail_names_the_customer(rt, world, mailer, locale, subject,
                                                         text):
    set_locales(rt, **{"sup@supplier.test": locale})
    number = raise_incident(rt, now=NOW, impact=3, urgency=3, title=TITLE)  # SIT triages
    mailer()
    fire(rt, number, "reclassify", now=NOW, layer="application",
         comment="The WMS application fails.")
    mails = {tuple(rcpt): (subj, body) for rcpt, subj, body in mailer()}
    assert mails[("sup@supplier.test",)] == (f"[itilflow] {number} {TITLE}: {subject}",
                                             text.format(number=number))
    # the customer's own mail keeps its words: it is the customer's organisation
    customer = mails[("agent@gst.test", "boss@gst.test", "rep@gst.test")]
    assert customer[0] == f"[itilflow] {number} {TITLE}: handed over to your organisation"
    assert "handed over to your organisation by agent@sit.test" in customer[1]


def test_a_supplier_told_of_a_ticket_logged_into_its_customers_queue_reads_the_customer(
        rt, world, mailer):
    with rt.session_factory() as s, s.begin():
        agent = directory.user_by_email(s, "agent@sit.test")
        ticket = tickets.submit_incident(s, rt.rules, agent, directory.load_actor(s, agent), {
            "system": "kort", "environment": "production", "title": TITLE, "description": "x",
            "impact": 3, "urgency": 3, "layer": "application"}, now=NOW)
        number = tickets.number_of(rt.rules, ticket)
    mails = {tuple(rcpt): (subj, body) for rcpt, subj, body in mailer()}
    assert mails[("sup@supplier.test",)] == (
        f"[itilflow] {number} {TITLE}: raised for GST",
        f"{number} {TITLE} was raised by agent@sit.test for GST, which works it (you work for "
        "it on Kortforsyningen); it is now New.")


# --- 8. the same impact and urgency again is refused -------------------------------------

def test_the_same_priority_is_refused_and_changes_nothing(rt, world, mailer):
    number = raise_incident(rt, now=NOW, layer="operating_system", impact=2, urgency=2)
    fire(rt, number, "start_work", now=NOW)
    mailer()
    before = _state(rt, number)
    with rt.session_factory() as s, pytest.raises(ValidationError) as refused:
        agent = directory.user_by_email(s, "agent@sit.test")
        tickets.fire_transition(s, rt.rules, agent, directory.load_actor(s, agent), number,
                                "reprioritise", {"impact": 2, "urgency": 2, "comment": "same"},
                                now=NOW)
    same = "The priority is unchanged: give a new impact or urgency."
    assert refused.value.status == 422 and refused.value.message == same
    assert refused.value.errors == {"impact": [same], "urgency": [same]}
    assert translate("da", same) == "Prioriteten er uændret: angiv en ny påvirkning eller hast."
    assert _state(rt, number) == before
    assert mailer() == []
    # one of the two new is enough
    fire(rt, number, "reprioritise", now=NOW, impact=2, urgency=1, comment="More urgent")
    assert _state(rt, number)[0][:3] == (2, 1, "P2")


# --- 9. a new priority is told, old -> new and why ---------------------------------------

def test_a_new_priority_is_told_to_the_reporters_side_and_the_informed(rt, world, mailer):
    set_locales(rt, **{"boss@gst.test": "da"})
    number = raise_incident(rt, now=NOW, layer="operating_system", impact=2, urgency=2,
                            title=TITLE)  # P3; the customer is I of OS incidents, and reported
    fire(rt, number, "start_work", now=NOW)
    mailer()
    fire(rt, number, "reprioritise", now=NOW, impact=1, urgency=1,
         comment="The whole map service is down")
    assert mailer() == [
        (["agent@gst.test", "rep@gst.test"], f"[itilflow] {number} {TITLE}: priority P3 → P1",
         f"{number} {TITLE}: agent@sit.test changed the priority from P3 to P1; the SLA "
         "targets follow the new priority. Why: \"The whole map service is down\""),
        (["boss@gst.test"], f"[itilflow] {number} {TITLE}: prioritet P3 → P1",
         f"{number} {TITLE}: agent@sit.test har ændret prioriteten fra P3 til P1; "
         "SLA-fristerne følger den nye prioritet. Hvorfor: \"The whole map service is down\""),
    ]
    with rt.session_factory() as s:
        [told] = [r.payload for r in s.scalars(select(OutboxMessage).where(
            OutboxMessage.topic == "notify")) if r.payload["event"] == "reprioritise"]
    assert (told["party"], sorted(told["as"]), told["from_priority"], told["priority"]) == \
        ("customer", ["I", "reporter"], "P3", "P1")


def test_impact_and_urgency_swapped_keep_the_priority_and_say_so(rt, world, mailer):
    """2/1 -> 1/2 is a real change of the values, but P2 stays P2: the notice does not say the
    priority changed "from P2 to P2" nor that the SLA targets move."""
    set_locales(rt, **{"boss@gst.test": "da"})
    number = raise_incident(rt, now=NOW, layer="operating_system", impact=2, urgency=1,
                            title=TITLE)  # P2
    fire(rt, number, "start_work", now=NOW)
    mailer()
    fire(rt, number, "reprioritise", now=NOW, impact=1, urgency=2, comment="Swapped")
    assert mailer() == [
        (["agent@gst.test", "rep@gst.test"],
         f"[itilflow] {number} {TITLE}: impact and urgency changed, priority P2",
         f"{number} {TITLE}: agent@sit.test changed the impact and urgency; the priority stays "
         "P2. Why: \"Swapped\""),
        (["boss@gst.test"],
         f"[itilflow] {number} {TITLE}: påvirkning og hast ændret, prioritet P2",
         f"{number} {TITLE}: agent@sit.test har ændret påvirkning og hast; prioriteten er "
         "stadig P2. Hvorfor: \"Swapped\""),
    ]


# --- 12. the current password as the new one; no mail about one's own step ---------------

def test_the_current_password_is_refused_as_the_new_one(rt, world):
    with rt.session_factory() as s:
        user = directory.user_by_email(s, "agent@gst.test")
        stamp = user.credential_stamp
        with pytest.raises(ValidationError) as refused:
            accounts.change_password(s, user, current=PASSWORD, new=PASSWORD, repeat=PASSWORD,
                                     now=NOW)
        same = "The new password must differ from the current one."
        assert refused.value.status == 422 and refused.value.errors == {"new": [same]}
        assert translate("da", same) == \
            "Den nye adgangskode skal være forskellig fra den nuværende."
        s.flush()
        assert user.credential_stamp == stamp
        assert directory.authenticate(s, "agent@gst.test", PASSWORD) is not None


def test_the_account_page_refuses_the_current_password_in_danish(app, world):
    app.extensions["itilflow_limiter"].reset()
    client = app.test_client()
    sign_in(client, "agent@gst.test")
    page = client.get("/account", headers={"Accept-Language": "da"}).get_data(as_text=True)
    answer = client.post("/account", headers={"Accept-Language": "da"}, data={
        "csrf_token": csrf_of(page), "form": "password", "current": PASSWORD, "new": PASSWORD,
        "repeat": PASSWORD})
    assert answer.status_code == 422
    assert "Den nye adgangskode skal være forskellig fra den nuværende." in \
        html.unescape(answer.get_data(as_text=True))
    assert client.get("/account").status_code == 200  # still signed in: nothing changed


@pytest.mark.parametrize(("actor", "layer", "told", "mailed"), [
    # a supplier raises and resolves on its customer's system: the customer is told (its
    # reporter's side), the supplier, its reporter, is not mailed of its own resolve
    ("sup@supplier.test", "application", "GST", [["agent@gst.test", "boss@gst.test"]]),
    # SIT's service desk raises and resolves its own OS incident: the rest of SIT is mailed
    # (and the customer, I of OS incidents)
    ("agent@sit.test", "operating_system", "SIT",
     [["agent2@sit.test", "boss@sit.test"], ["agent@gst.test", "boss@gst.test"]]),
])
def test_nobody_is_mailed_of_their_own_step(rt, world, mailer, actor, layer, told, mailed):
    number = raise_incident(rt, now=NOW, layer=layer, impact=3, urgency=3, email=actor,
                            title=TITLE)
    mailer()
    fire(rt, number, "resolve", now=NOW, email=actor, resolution="Restarted the service.")
    assert [(rcpt, subject) for rcpt, subject, _text in mailer()] == [
        (rcpt, f"[itilflow] {number} {TITLE}: Resolved") for rcpt in mailed]
    # the organisation's shared inbox still has the row (its read state is the team's)
    with rt.session_factory() as s:
        inboxes = set(s.scalars(select(Organisation.name).join(
            Notification, Notification.organisation_id == Organisation.id)
            .where(Notification.event == "resolve")))
    assert told in inboxes
