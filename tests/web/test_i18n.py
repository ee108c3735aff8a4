"""Danish: every label of every workflow file and of the matrix is in the catalogue (so a new one
cannot ship untranslated), messages with values in them are translated by pattern, and the key
pages and the inbox read in Danish with no English label left, over HTTP on both backends."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from itilflow.domain.diagram import render_svg
from itilflow.jobs.context import JobContext
from itilflow.jobs.language import translator
from itilflow.jobs.relay import Relay
from itilflow.models import OutboxMessage
from itilflow.models.paging import Notification
from itilflow.runtime import utcnow
from itilflow.services import notifications, tickets
from itilflow.services.rules import load_rules
from itilflow.settings import PROJECT_ROOT, Settings
from itilflow.web.i18n import DA, DA_PATTERNS, gettext, strftime
from tests.changes.common import fire, submit_change

PLACEHOLDER = re.compile(r"%\((\w+)\)")


def _labels(rules) -> set[str]:
    """Every text of the workflow files and the matrix that the UI shows."""
    found = set()
    for wf in rules.workflows.values():
        found |= {s.label for s in wf.states.values()}
        for spec in wf.transitions:
            found.add(spec.label)
            for f in spec.fields:
                found.add(f.label)
                if f.type != "layer":  # layers have their own words (LAYER_WORDS)
                    found |= {c.replace("_", " ") for c in f.choices}
    return found | {a.label for a in rules.matrix.activities.values()}


def test_every_workflow_and_matrix_label_has_danish():
    """Straight from the files (no app): a label added to a workflow needs its Danish here."""
    rules = load_rules(Settings.load())
    files = sorted(p.stem for p in (PROJECT_ROOT / "workflows").glob("*.yaml"))
    assert sorted(wf.name for wf in rules.workflows.values()) == files  # every file is walked
    missing = sorted(label for label in _labels(rules) if label not in DA)
    assert not missing, f"labels without a Danish translation in itilflow/i18n.py: {missing}"


def test_catalogue_keeps_the_placeholders():
    for english, danish in DA.items():
        assert set(PLACEHOLDER.findall(english)) == set(PLACEHOLDER.findall(danish)), english
    for pattern, danish in DA_PATTERNS:
        assert set(PLACEHOLDER.findall(danish)) <= set(pattern.groupindex), pattern.pattern


@pytest.mark.parametrize(("english", "danish"), [
    ("'confirm' is not possible while the incident is In progress.",
     "\"Bekræft løsningen\" er ikke muligt, mens sagen er I gang."),
    ("'start_installation_test' waits for the consultation of: customer.",
     "\"Start installationsprøve\" venter på høringssvar fra kunden."),
    ("No open consultation of the customer on installation_test.",
     "Der er ingen åben høring af kunden om Installationsprøve."),
    ("Must be one of: low, medium, high.", "Skal være en af: lav, middel, høj."),
    ("At most 200 characters.", "Højst 200 tegn."),
    ("the provider has no escalation levels for this system",
     "SIT har ingen eskaleringsniveauer for dette system"),
    ("No such user.", "Ingen sådan bruger."),
    ("Invalid filters.", "Ugyldige filtre."),
    ("The ticket changed since version 3; it is at version 4. Reload and try again.",
     "Sagen er ændret siden version 3; den er nu i version 4. Genindlæs, og prøv igen."),
])
def test_messages_with_values_are_translated(app, english, danish):
    with app.test_request_context(headers={"Accept-Language": "da"}):
        assert gettext(english) == danish
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert gettext(english) == english
    # a job (a mail) writes outside any request, in its reader's language: the labels filled
    # into a pattern are Danish too, not the English of a request-less gettext
    with app.app_context():
        assert translator("da")(english) == danish
        assert translator("en")(english) == translator(None)(english) == english


def test_months_and_the_diagram_in_danish(app):
    december = datetime(2026, 12, 24, 9, 0, tzinfo=UTC)
    with app.test_request_context(headers={"Accept-Language": "da"}):
        assert strftime(december, "%d %b %Y") == "24 dec. 2026"
        svg = render_svg(app.extensions["itilflow"].rules.workflows["change"], gettext)
        visible = re.sub(r"<title>.*?</title>", "", svg)
        assert "Afventer godkendelse" in visible and "Anmod om godkendelse" in visible
        assert "Awaiting approval" not in visible and "request_approval" not in visible
        assert "<title>request_approval</title>" in svg  # the trigger's name, as a tooltip
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert strftime(december, "%d %b %Y") == "24 Dec 2026"


def _deliver(rt):
    relay = Relay(JobContext(session_factory=rt.session_factory, rules=rt.rules,
                             settings=rt.settings))
    while relay.run_due(utcnow() + timedelta(seconds=1)):
        pass


@pytest.fixture
def consulted_change(rt, world):
    """A normal OS change awaiting approval, with a question to the customer (GST)."""
    with rt.session_factory() as s:
        change = submit_change(s, rt.rules, world)
        fire(s, rt.rules, world, "agent@sit.test", change, "assess")
        fire(s, rt.rules, world, "agent@sit.test", change, "request_approval", risk="medium",
             impact_assessment="Reboot of both nodes.")
        fire(s, rt.rules, world, "agent@sit.test", change, "consult", stage="installation_test",
             question="May we run the installation test on Tuesday 10-12?")
        s.commit()
        number = tickets.number_of(rt.rules, change)
    _deliver(rt)
    return number


def _text_nodes(page: str) -> set[str]:
    main = page[page.index("<main"):page.index("</main>")]
    main = re.sub(r"<(script|style|svg)\b.*?</\1>", " ", main, flags=re.S)
    nodes = {re.sub(r"\s+", " ", html.unescape(t)).strip() for t in re.split(r"<[^>]+>", main)}
    attrs = {html.unescape(a) for a in re.findall(r'(?:aria-label|title|placeholder)="([^"]*)"',
                                                  main)}
    return (nodes | attrs) - {""}


def _english_labels(rt) -> set[str]:
    return {label for label in _labels(rt.rules) if DA.get(label, label) != label}


def test_key_pages_in_danish_show_no_english_label(app, rt, world, login, consulted_change):
    english = _english_labels(rt)
    pages = {
        "agent@sit.test": [f"/tickets/{consulted_change}", "/agent", "/agent?queue=all_open",
                           "/nope"],
        "boss@sit.test": [f"/tickets/{consulted_change}"],
        "agent@gst.test": [f"/tickets/{consulted_change}", "/notifications", "/portal"],
    }
    for email, paths in pages.items():
        client = login(email)
        for path in paths:
            page = client.get(path, headers={"Accept-Language": "da"}).get_data(as_text=True)
            assert 'lang="da"' in page, path
            left = sorted(_text_nodes(page) & english)
            assert not left, (email, path, left)
    ticket = login("agent@gst.test").get(f"/tickets/{consulted_change}",
                                         headers={"Accept-Language": "da"}).get_data(as_text=True)
    assert "Afventer godkendelse" in ticket and "Besvar høring" in ticket


def test_inbox_speaks_the_readers_language_with_labels(app, rt, world, login, consulted_change):
    client = login("boss@gst.test")
    danish = " ".join(_text_nodes(client.get("/notifications", headers={
        "Accept-Language": "da"}).get_data(as_text=True)))
    assert "valgte \"Anmod om godkendelse\"; den er nu Afventer godkendelse." in danish
    assert "May we run the installation test on Tuesday 10-12?" in danish
    assert "spørger jeres organisation (Installationsprøve) og har brug for jeres svar" in danish
    assert "awaiting_approval" not in danish and "request_approval" not in danish
    english = " ".join(_text_nodes(client.get("/notifications", headers={
        "Accept-Language": "en"}).get_data(as_text=True)))
    assert "chose \"Request approval\"; it is now Awaiting approval." in english
    assert "needs your answer: \"May we run the installation test on Tuesday 10-12?\"" in english


def test_a_notification_without_its_payload_keeps_its_stored_text(app, rt, world, login,
                                                                   consulted_change):
    with rt.session_factory() as s:
        note = s.scalars(select(Notification).order_by(Notification.id)).first()
        s.execute(OutboxMessage.__table__.delete().where(
            OutboxMessage.message_id == note.message_id))
        note.message = "INC-000001 Old text changed (resolve); it is now resolved."
        s.commit()
    page = login("boss@gst.test").get("/notifications", headers={"Accept-Language": "da"})
    assert page.status_code == 200
    assert "INC-000001 Old text changed (resolve); it is now resolved." in page.get_data(
        as_text=True)


def test_stored_text_uses_labels_not_names(app, rt, world, consulted_change):
    with rt.session_factory() as s:
        stored = [n.message for n in s.scalars(select(Notification))]
    assert any("chose \"Request approval\"; it is now Awaiting approval." in m for m in stored)
    assert not any("awaiting_approval" in m or "request_approval" in m for m in stored)


def test_field_errors_with_values_in_danish(app, world, login, consulted_change):
    client = login("agent@sit.test")
    page = client.get(f"/tickets/{consulted_change}").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    answer = client.post(f"/tickets/{consulted_change}/transitions/consult",
                         data={"csrf_token": token, "stage": "bogus", "question": "x" * 20_000},
                         headers={"Accept-Language": "da"})
    assert answer.status_code == 422
    text = " ".join(_text_nodes(answer.get_data(as_text=True)))
    assert "Skal være en af: installation_test" in text and "Højst 10000 tegn." in text
    assert "Must be one of" not in text and "At most" not in text


def test_hand_over_reply_and_comment_are_told_in_the_readers_language(app, rt):
    handed = {"event": "reclassify", "number": "INC-000007", "title": "Map down",
              "state": "new", "actor": "agent@sit.test", "party": "customer",
              "from_party": "provider", "to_party": "customer", "comment": "It is the app."}
    waiting = {"event": "wait_for_customer", "number": "INC-000007", "title": "Map down",
               "state": "waiting_customer", "actor": "agent@sit.test", "party": "customer",
               "comment": "Please send the logs"}
    reply = {**waiting, "event": "reply", "actor": "rep@gst.test", "party": "provider"}
    with app.test_request_context(headers={"Accept-Language": "da"}):
        assert notifications.message_text(handed, rt.rules, gettext) == (
            "INC-000007 Map down er overdraget til jeres organisation af agent@sit.test "
            "(\"Omklassificér lag\"): I arbejder nu på den. Kommentar: \"It is the app.\"")
        assert notifications.message_text(waiting, rt.rules, gettext) == (
            "agent@sit.test venter på jeres svar på INC-000007 Map down: \"Please send the "
            "logs\" Svar med en kommentar på sagen.")
        assert notifications.message_text(reply, rt.rules, gettext) == (
            "INC-000007 Map down: rep@gst.test har svaret på jeres spørgsmål: \"Please send the "
            "logs\" Den er stadig Venter på kunden, indtil I genoptager arbejdet.")
    assert notifications.message_text({**handed, "party": "supplier"}, rt.rules) == (
        "INC-000007 Map down was handed over from the provider (SIT) to the customer by "
        "agent@sit.test (\"Reclassify layer\"). Comment: \"It is the app.\"")
    # stored at delivery, without the rules at hand: names made readable, never raw
    assert notifications.message_text({**waiting, "event": "resume", "state": "in_progress"}) \
        .startswith("INC-000007 Map down: agent@sit.test chose \"Resume\"; it is now In "
                    "progress.")
