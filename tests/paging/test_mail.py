"""Notification mails through a real SMTP server on loopback: each reader's language, a subject
that says what happened, and no mail that shows one organisation's addresses to another."""

from __future__ import annotations

import pytest

from itilflow.services import directory, tickets
from tests.conftest import set_locales
from tests.paging.conftest import EVENING, fire, raise_incident

TITLE = "Map tiles time out"


@pytest.fixture
def mailer(mail_reader):
    """The mails sent since the last call (tests/conftest.py mail_reader), the evening by default."""
    return lambda now=EVENING: mail_reader(now)


def test_each_reader_gets_the_mail_in_their_language(rt, world, mailer):
    set_locales(rt, **{"rep@gst.test": "da", "boss@gst.test": "da", "agent@gst.test": "en"})
    number = raise_incident(rt, system="arkiv", layer="operating_system", impact=3, urgency=3,
                            title=TITLE)
    created = mailer()
    assert [(rcpt, subject) for rcpt, _to, subject, _text in created] == [
        (["agent@gst.test"], f"[itilflow] {number} {TITLE}: raised"),
        (["boss@gst.test", "rep@gst.test"], f"[itilflow] {number} {TITLE}: oprettet"),
    ]
    assert created[1][3] == f"{number} {TITLE} er oprettet af rep@gst.test; den er nu Ny."
    fire(rt, number, "start_work")
    fire(rt, number, "wait_for_customer", comment="Send the logs, please.")
    asked = mailer()
    assert asked == [
        (["agent@gst.test"], "agent@gst.test",
         f"[itilflow] {number} {TITLE}: waiting for your answer",
         f"agent@sit.test is waiting for your answer on {number} {TITLE}: \"Send the logs, "
         "please.\" Answer with a comment on the ticket."),
        (["boss@gst.test", "rep@gst.test"], "boss@gst.test, rep@gst.test",
         f"[itilflow] {number} {TITLE}: venter på jeres svar",
         f"agent@sit.test venter på jeres svar på {number} {TITLE}: \"Send the logs, "
         "please.\" Svar med en kommentar på sagen."),
    ]


def test_unset_or_unknown_language_is_english(rt, world, mailer):
    set_locales(rt, **{"rep@gst.test": None, "boss@gst.test": "xx"})
    number = raise_incident(rt, system="arkiv", layer="operating_system", impact=3, urgency=3,
                            title=TITLE)
    assert [(rcpt, subject) for rcpt, _to, subject, _text in mailer()] == [
        (["agent@gst.test", "boss@gst.test", "rep@gst.test"],  # rep's receipt
         f"[itilflow] {number} {TITLE}: raised")]


def test_sit_staff_who_log_a_customers_incident_are_not_in_its_mail(rt, world, mailer):
    """The customer's mail goes to the customer's people only: the SIT agent who logged it is
    neither added as its reporter nor shown the customer's addresses."""
    number = raise_incident(rt, system="arkiv", impact=3, urgency=3, title=TITLE,
                            email="agent@sit.test")
    assert [(rcpt, to) for rcpt, to, _subject, _text in mailer()] == [
        (["agent@gst.test", "boss@gst.test"], "agent@gst.test, boss@gst.test")]
    # the customer answers SIT: SIT is told, in its own mail, the customer nowhere in it
    fire(rt, number, "start_work")
    fire(rt, number, "wait_for_customer", comment="Which layer?")
    assert [rcpt for rcpt, _to, _subject, _text in mailer()] == [
        ["agent2@sit.test", "boss@sit.test"]]  # not agent@sit.test, whose own step it was


def test_a_caller_of_the_customer_is_in_the_customers_mail(rt, world, mailer):
    """SIT logs an application incident for a caller straight into the customer's queue: the
    customer is told it has the ticket, the caller with it; SIT, which logged it, is not."""
    with rt.session_factory() as s, s.begin():
        agent = directory.user_by_email(s, "agent@sit.test")
        ticket = tickets.submit_incident(s, rt.rules, agent, directory.load_actor(s, agent), {
            "system": "arkiv", "environment": "production", "title": TITLE, "description": "x",
            "impact": 3, "urgency": 3, "layer": "application", "reporter": "rep@gst.test"},
            now=EVENING)
        number = tickets.number_of(rt.rules, ticket)
    assert mailer() == [(
        ["agent@gst.test", "boss@gst.test", "rep@gst.test"],
        "agent@gst.test, boss@gst.test, rep@gst.test",
        f"[itilflow] {number} {TITLE}: raised for your organisation",
        f"{number} {TITLE} was raised by agent@sit.test for your organisation, which works it; "
        "it is now New.")]

