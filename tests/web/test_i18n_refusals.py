"""Refusals and the inbox in Danish: every refusal sentence of domain/access.py has a Danish
pattern, real refusals (a reporter resolving, a supplier answering for the customer, a second
acknowledgement or approval) read in Danish with no English left, and the wait-for-customer, reply
and hand-over notices read in the reader's language on the inbox page."""

from __future__ import annotations

import html
import re

import pytest

from itilflow.domain import access
from itilflow.services import tickets
from itilflow.web.i18n import DA, gettext
from tests.changes.common import fire, submit_change
from tests.conftest import WORK_TIME
from tests.web.conftest import csrf_of
from tests.web.test_i18n import _deliver, _text_nodes

#: what a sentence filled with these values must not keep once it is Danish
ENGLISH = re.compile(r"\b(Only|may|ticket|use|the|layer|customer|provider|accountable|consulted|"
                     r"stage|Resolve|Approve|operating|system|manager|Nobody|already)\b")
VALUES = {"party": "the customer or the provider (SIT)", "action": "Resolve",
          "layer": "operating system", "stage": "any stage", "role": "sit manager",
          "trigger": "start_installation_test", "parties": "customer, provider"}


def _templates() -> dict[str, str]:
    """Every refusal sentence of domain/access.py (a new one is picked up here by itself)."""
    return {name: value for name, value in vars(access).items()
            if name.isupper() and isinstance(value, str) and value.endswith(".")}


def test_the_refusal_templates_are_found():
    assert {"NEEDS_R", "NEEDS_A_LAYERS", "NOT_FOR_SUPPLIER", "NEEDS_ROLE", "NOT_FOR_ADMIN",
            "ALREADY_APPROVED", "NOBODY_TO_CONSULT"} <= set(_templates())


@pytest.mark.parametrize("name", sorted(_templates()))
def test_every_refusal_template_has_danish(app, name):
    english = _templates()[name] % VALUES
    with app.test_request_context(headers={"Accept-Language": "da"}):
        danish = gettext(english)
    assert danish != english, f"access.{name} has no Danish pattern or entry"
    assert not ENGLISH.search(danish), (name, danish)
    if "%(party)s" in _templates()[name]:
        assert "kunden eller SIT" in danish
    if "%(action)s" in _templates()[name]:
        assert '"Løs"' in danish


@pytest.mark.parametrize(("english", "danish"), [
    ("Only agents and managers of the provider (SIT) may use \"Resolve\" on this ticket: it is "
     "responsible for the operating system layer.",
     "Kun medarbejdere og ledere hos SIT må bruge \"Løs\" på denne sag: den er "
     "ansvarlig for laget operativsystem."),
    ("Only managers of the customer may use \"Approve\" on this ticket: it is accountable while "
     "the layer is not yet known.",
     "Kun ledere hos kunden må bruge \"Godkend\" på denne sag: den har det endelige ansvar, så "
     "længe laget ikke er kendt."),
    ("Only a user with the role sit manager may use \"Close\" on this ticket.",
     "Kun en bruger med rollen SIT-leder må bruge \"Luk\" på denne sag."),
    ("Nobody is consulted on Installation test (installationsprøve) for the middleware layer.",
     "Ingen høres om Installationsprøve på laget middleware."),
    ("Nobody is consulted on any stage for the unclassified layer.",
     "Ingen høres om nogen fase på laget (endnu ikke klassificeret)."),
    ("This change already has the approval of the provider (SIT).",
     "Ændringen er allerede godkendt af SIT."),
])
def test_refusal_values_are_danish_too(app, english, danish):
    with app.test_request_context(headers={"Accept-Language": "da"}):
        assert gettext(english) == danish


def test_the_old_refusal_shape_is_gone():
    """The "<role> may not <trigger> this <kind>: it needs ..." messages are no more."""
    assert not any("may not" in key for key in DA if "%(" in key)


# --- real refusals over HTTP ---------------------------------------------------------------

FLASH = re.compile(r'<p class="flash flash-error"[^>]*>(.*?)</p>', re.S)


def _refused(login, email, number, trigger, status, language="da", **form):
    client = login(email)
    page = client.get(f"/tickets/{number}").get_data(as_text=True)
    answer = client.post(f"/tickets/{number}/transitions/{trigger}",
                         data={"csrf_token": csrf_of(page), **form},
                         headers={"Accept-Language": language})
    assert answer.status_code == status, answer.get_data(as_text=True)[:300]
    found = FLASH.search(answer.get_data(as_text=True))
    assert found, f"no error shown for {trigger}"
    return html.unescape(found.group(1)).strip()


@pytest.fixture
def incident(rt, world):
    """An OS incident of GST that SIT works (SIT is R of the OS layer)."""
    with rt.session_factory() as s:
        user, ctx = world.actor(s, "rep@gst.test")
        ticket = tickets.submit_incident(s, rt.rules, user, ctx, {
            "system": "kort", "environment": "production", "title": "Map tiles time out",
            "description": "GetMap requests time out.", "impact": 2, "urgency": 2,
            "layer": "operating_system"}, now=WORK_TIME)
        fire(s, rt.rules, world, "agent@sit.test", ticket, "start_work")
        s.commit()
        return tickets.number_of(rt.rules, ticket)


def test_a_reporter_resolving_is_told_who_may_in_danish(app, login, incident):
    said = _refused(login, "rep@gst.test", incident, "resolve", 403, resolution="Fixed it.")
    assert said == ("Kun medarbejdere og ledere hos SIT må bruge \"Løs\" på denne "
                    "sag: den er ansvarlig for laget operativsystem.")
    english = _refused(login, "rep@gst.test", incident, "resolve", 403, language="en")
    assert english == ("Only agents and managers of the provider (SIT) may use \"Resolve\" on "
                       "this ticket: it is responsible for the operating system layer.")


def test_a_second_acknowledgement_is_refused_in_danish(app, rt, world, login, incident):
    with rt.session_factory() as s:
        fire(s, rt.rules, world, "agent@sit.test", _ticket(s, rt, world, incident), "acknowledge")
        s.commit()
    assert _refused(login, "agent2@sit.test", incident, "acknowledge", 409) == \
        "Sagen er allerede kvitteret."


@pytest.fixture
def change(rt, world):
    """A normal OS change affecting the application too (two A: SIT and GST), awaiting
    approval, with a question to the customer on the installation test."""
    with rt.session_factory() as s:
        ticket = submit_change(s, rt.rules, world, affected_layers=["application"])
        fire(s, rt.rules, world, "agent@sit.test", ticket, "assess")
        fire(s, rt.rules, world, "agent@sit.test", ticket, "request_approval", risk="low",
             impact_assessment="Reboot of both nodes.")
        fire(s, rt.rules, world, "agent@sit.test", ticket, "consult", stage="installation_test",
             question="May we run the installation test on Tuesday?")
        s.commit()
        return tickets.number_of(rt.rules, ticket)


def test_a_supplier_answering_for_the_customer_is_refused_in_danish(app, login, change):
    said = _refused(login, "sup@supplier.test", change, "answer_consultation", 403,
                    stage="installation_test", answer="Yes, go ahead.")
    assert said == ("En leverandør arbejder for kunden, men må ikke bruge \"Besvar høring\" på "
                    "denne sag: kun kunden selv giver sit samtykke eller sin godkendelse.")


def test_a_second_approval_is_refused_in_danish(app, rt, world, login, change):
    with rt.session_factory() as s:
        ticket = _ticket(s, rt, world, change)
        fire(s, rt.rules, world, "boss@sit.test", ticket, "approve")
        s.commit()
        assert ticket.state == "awaiting_approval"  # the customer's approval is still due
    said = _refused(login, "boss@sit.test", change, "approve", 409)
    assert said == "Ændringen er allerede godkendt af SIT."


def test_an_agent_approving_is_told_only_managers_may_in_danish(app, login, change):
    said = _refused(login, "agent@gst.test", change, "approve", 403)
    assert said.startswith("Kun ledere hos ") and "\"Godkend\"" in said
    assert not ENGLISH.search(said), said


# --- the inbox ------------------------------------------------------------------------------

def _inbox(login, email, language):
    page = login(email).get("/notifications", headers={"Accept-Language": language})
    assert page.status_code == 200
    return " ".join(_text_nodes(page.get_data(as_text=True)))


def test_waiting_for_the_customer_and_its_answer_in_both_languages(app, rt, world, login,
                                                                    incident):
    with rt.session_factory() as s:
        ticket = _ticket(s, rt, world, incident)
        fire(s, rt.rules, world, "agent@sit.test", ticket, "wait_for_customer",
             comment="Please send the logs.")
        user, ctx = world.actor(s, "rep@gst.test")
        tickets.add_comment(s, rt.rules, user, ctx, ticket.id, "Logs attached.", now=WORK_TIME)
        s.commit()
    _deliver(rt)
    ticket = f"{incident} Map tiles time out"
    assert (f"agent@sit.test venter på jeres svar på {ticket}: \"Please send the logs.\" Svar "
            "med en kommentar på sagen.") in _inbox(login, "agent@gst.test", "da")
    assert (f"agent@sit.test is waiting for your answer on {ticket}: \"Please send the logs.\" "
            "Answer with a comment on the ticket.") in _inbox(login, "agent@gst.test", "en")
    assert (f"{ticket}: rep@gst.test har svaret på jeres spørgsmål: \"Logs attached.\" Den er "
            "I gang igen.") in _inbox(login, "boss@sit.test", "da")
    assert (f"{ticket}: rep@gst.test answered your question: \"Logs attached.\" It is In "
            "progress again.") in _inbox(login, "boss@sit.test", "en")


def test_a_hand_over_is_told_to_the_party_that_has_it_now(app, rt, world, login):
    with rt.session_factory() as s:
        user, ctx = world.actor(s, "rep@gst.test")
        ticket = tickets.submit_incident(s, rt.rules, user, ctx, {
            "system": "kort", "environment": "production", "title": "Map down",
            "description": "Nothing loads.", "impact": 2, "urgency": 2}, now=WORK_TIME)
        fire(s, rt.rules, world, "agent@sit.test", ticket, "reclassify", layer="application",
             comment="The WMS application itself fails.")
        s.commit()
        _deliver(rt)
        number = tickets.number_of(rt.rules, ticket)
        ticket = f"{number} Map down"
        assert (f"{ticket} er overdraget til jeres organisation af agent@sit.test "
                "(\"Omklassificér lag\"): I arbejder nu på den. Kommentar: \"The WMS application "
                "itself fails.\"") in _inbox(login, "agent@gst.test", "da")
        assert (f"{ticket} was handed over to your organisation by agent@sit.test "
                "(\"Reclassify layer\"): it now works it. Comment: \"The WMS application itself "
                "fails.\"") in _inbox(login, "agent@gst.test", "en")
        # back to SIT: SIT works it; the customer, I of OS incidents, hears who has it
        fire(s, rt.rules, world, "agent@gst.test", _ticket(s, rt, world, number),
             "reclassify", layer="operating_system")
        s.commit()
    _deliver(rt)
    assert (f"{ticket} er overdraget til jeres organisation af agent@gst.test") in \
        _inbox(login, "boss@sit.test", "da")
    danish = _inbox(login, "boss@gst.test", "da")
    assert (f"{ticket} er overdraget fra kunden til SIT af agent@gst.test "
            "(\"Omklassificér lag\").") in danish
    assert "handed over" not in danish and "the customer" not in danish
    assert (f"{ticket} was handed over from the customer to the provider (SIT) by "
            "agent@gst.test (\"Reclassify layer\").") in _inbox(login, "boss@gst.test", "en")


def _ticket(session, rt, world, number):
    return tickets.get_ticket(session, rt.rules, world.actor(session, "agent@sit.test")[1],
                              number)
