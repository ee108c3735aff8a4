"""The one-ticket page shows what each party needs to act: the consultation's question, a change's
window, layers and approvals, a problem's known error, who reported it, the way home; and a
comment form sent twice stores one comment. Flask test client, both backends."""

from __future__ import annotations

import html
import re
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from itilflow.models import TicketEvent
from itilflow.services import changes, directory, paging, tickets
from tests.conftest import WORK_TIME
from tests.web.conftest import csrf_of

QUESTION = "May we run the installation test on Tuesday 10-12?"


def _actor(s, email):
    user = directory.user_by_email(s, email)
    return user, directory.load_actor(s, user)


def _fire(s, rt, email, ticket_id, trigger, fields=None):
    user, ctx = _actor(s, email)
    tickets.fire_transition(s, rt.rules, user, ctx, ticket_id, trigger, fields or {},
                            now=WORK_TIME)


def _text(page: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


def _change_waiting_on_the_customer(rt) -> str:
    """An OS change that also touches the application: SIT has approved, the customer has not;
    SIT asks the customer about the installation test."""
    with rt.session_factory() as s:
        sit, sit_ctx = _actor(s, "agent@sit.test")
        change = tickets.submit_change(s, rt.rules, sit, sit_ctx, {
            "system": "kort", "environment": "production", "layer": "operating_system",
            "affected_layers": ["application"], "change_type": "normal",
            "title": "Upgrade tile servers", "description": "In-place OS upgrade.",
            "planned_start": "2026-12-08T09:00:00+00:00",
            "planned_end": "2026-12-08T13:30:00+00:00",
        }, now=WORK_TIME)
        _fire(s, rt, "agent@sit.test", change.id, "assess")
        _fire(s, rt, "agent@sit.test", change.id, "request_approval", {
            "risk": "high", "impact_assessment": "Tiles are served from the other pool."})
        _fire(s, rt, "boss@sit.test", change.id, "approve", {"comment": "Fine by SIT."})
        _fire(s, rt, "agent@sit.test", change.id, "consult", {
            "stage": "installation_test", "question": QUESTION})
        number = tickets.number_of(rt.rules, change)
        s.commit()
        return number


def test_a_consulted_customer_reads_the_question_and_then_the_answer(app, world, rt, login):
    number = _change_waiting_on_the_customer(rt)
    reporter = _text(login("rep@gst.test").get(f"/tickets/{number}").get_data(as_text=True))
    assert QUESTION in reporter and "Installation test" in reporter
    assert "asked by agent (SIT)" in reporter
    assert "Awaiting an answer from: the customer (GST)." in reporter
    assert login("rep@erst.test").get(f"/tickets/{number}").status_code == 404

    with rt.session_factory() as s:
        _fire(s, rt, "boss@gst.test", number, "answer_consultation", {
            "stage": "installation_test", "answer": "Tuesday suits us."})
        s.commit()
    answered = _text(login("rep@gst.test").get(f"/tickets/{number}").get_data(as_text=True))
    assert QUESTION in answered and "Tuesday suits us." in answered
    assert "boss (GST)" in answered and "Awaiting an answer" not in answered


def test_a_change_shows_its_window_layers_approvals_and_every_layers_raci(app, world, rt,
                                                                        login):
    number = _change_waiting_on_the_customer(rt)
    response = login("boss@gst.test").get(f"/tickets/{number}")
    assert response.status_code == 200
    page = _text(response.get_data(as_text=True))
    # the window in the configured zone (Copenhagen, UTC+1 in December)
    assert "Planned start 08 Dec 2026 10:00" in page and "Planned end 08 Dec 2026 14:30" in page
    assert "Change type Normal" in page
    assert "the server's operating system (operating system)" in page
    assert "the application itself (application)" in page
    assert "provider: approved by boss@sit.test" in page and "Fine by SIT." in page
    assert "customer: approval pending" in page
    assert "Risk high" in page and "Tiles are served from the other pool." in page
    # nobody chose an impact or urgency for a change
    assert "Impact / Urgency" not in page
    # the matrix of each affected layer, not only the main one
    assert page.count("Who does what (RACI)") == 2
    assert "Layer the application itself is owned by the customer." in page
    assert "Layer the server's operating system is owned by SIT." in page


def test_a_change_warns_of_overlaps_and_freezes_until_its_outcome(app, world, rt, login):
    first = _change_waiting_on_the_customer(rt)
    with rt.session_factory() as s:
        _admin, admin_ctx = _actor(s, "admin@sit.test")
        changes.create_freeze_period(s, admin_ctx, {
            "name": "Christmas", "starts_at": "2026-12-08T12:00:00+00:00",
            "ends_at": "2027-01-02T00:00:00+00:00"}, now=WORK_TIME)
        sit, sit_ctx = _actor(s, "agent@sit.test")
        urgent = tickets.submit_change(s, rt.rules, sit, sit_ctx, {
            "system": "kort", "environment": "production", "layer": "operating_system",
            "change_type": "emergency", "title": "Patch the kernel now",
            "planned_start": "2026-12-08T10:00:00+00:00",
            "planned_end": "2026-12-08T14:00:00+00:00"}, now=WORK_TIME)
        number = tickets.number_of(rt.rules, urgent)
        s.commit()
    client = login("agent@sit.test")
    page = _text(client.get(f"/tickets/{number}").get_data(as_text=True))
    assert f"Overlaps {first} (Upgrade tile servers): from 08 Dec 2026 10:00" in page
    assert "In the freeze period Christmas: from 08 Dec 2026 13:00" in page
    with rt.session_factory() as s:
        _fire(s, rt, "boss@sit.test", number, "authorise_emergency", {"comment": "Exploit."})
        _fire(s, rt, "agent@sit.test", number, "emergency_install")
        _fire(s, rt, "agent@sit.test", number, "complete", {"outcome": "backed_out"})
        s.commit()
    done = _text(client.get(f"/tickets/{number}").get_data(as_text=True))
    assert "Outcome backed out" in done and "Change type Emergency" in done
    assert "Overlaps" not in done and "freeze period" not in done


def test_a_problem_shows_root_cause_workaround_and_its_incidents(app, world, rt, login):
    with rt.session_factory() as s:
        rep, rep_ctx = _actor(s, "rep@gst.test")
        incident = tickets.submit_incident(s, rt.rules, rep, rep_ctx, {
            "system": "kort", "environment": "production", "layer": "operating_system",
            "title": "Disk full", "impact": 2, "urgency": 2}, now=WORK_TIME)
        sit, sit_ctx = _actor(s, "agent@sit.test")
        problem = tickets.submit_problem(s, rt.rules, sit, sit_ctx, {
            "system": "kort", "layer": "operating_system", "title": "Log rotation missing",
            "incidents": [incident.id]}, now=WORK_TIME)
        _fire(s, rt, "agent@sit.test", problem.id, "investigate")
        _fire(s, rt, "agent@sit.test", problem.id, "record_known_error", {
            "root_cause": "logrotate is not installed", "workaround": "Delete old logs by hand"})
        numbers = tickets.number_of(rt.rules, problem), tickets.number_of(rt.rules, incident)
        s.commit()
    problem_number, incident_number = numbers
    page = _text(login("agent@sit.test").get(f"/tickets/{problem_number}").get_data(as_text=True))
    assert "Root cause logrotate is not installed" in page
    assert "Workaround Delete old logs by hand" in page
    assert f"Linked incidents {incident_number} Disk full" in page
    assert "Impact / Urgency" not in page
    incident_page = _text(login("rep@gst.test").get(f"/tickets/{incident_number}")
                          .get_data(as_text=True))
    assert f"Problems {problem_number} Log rotation missing" in incident_page
    assert "Delete old logs by hand" in incident_page and "Impact / Urgency" in incident_page


def test_reported_by_names_the_reporters_own_organisation(app, world, rt, login):
    with rt.session_factory() as s:
        sit, sit_ctx = _actor(s, "agent@sit.test")
        made = [tickets.submit_incident(s, rt.rules, sit, sit_ctx, {
            "system": "kort", "environment": "production", "title": f"Call from {caller}",
            "impact": 2, "urgency": 2, "reporter": caller}, now=WORK_TIME)
            for caller in ("agent2@sit.test", "rep@gst.test")]
        numbers = [tickets.number_of(rt.rules, t) for t in made]
        s.commit()
    client = login("boss@sit.test")
    for number, name, org in zip(numbers, ("agent2", "rep"), ("SIT", "GST"), strict=True):
        page = _text(client.get(f"/tickets/{number}").get_data(as_text=True))
        assert f"Reported by {name} {org} Created" in page


@pytest.mark.parametrize("email, home", [("admin@sit.test", "/admin"),
                                         ("agent@sit.test", "/agent"),
                                         ("rep@gst.test", "/portal")])
def test_the_breadcrumb_leads_home(app, world, rt, login, email, home):
    with rt.session_factory() as s:
        rep, rep_ctx = _actor(s, "rep@gst.test")
        number = tickets.number_of(rt.rules, tickets.submit_incident(s, rt.rules, rep, rep_ctx, {
            "system": "kort", "environment": "production", "title": "Slow", "impact": 3,
            "urgency": 3}, now=WORK_TIME))
        s.commit()
    client = login(email)
    page = client.get(f"/tickets/{number}").get_data(as_text=True)
    link = re.search(r'<p class="crumbs"><a href="([^"]+)"', page).group(1)
    assert link == home and client.get(link).status_code == 200


def test_the_timeline_says_which_sla_target_was_missed(app, world, rt, login):
    with rt.session_factory() as s:
        rep, rep_ctx = _actor(s, "rep@gst.test")
        incident = tickets.submit_incident(s, rt.rules, rep, rep_ctx, {
            "system": "kort", "environment": "production", "title": "Down", "impact": 1,
            "urgency": 1}, now=WORK_TIME)
        assert paging.check_sla(s, rt.rules, incident.id, WORK_TIME + timedelta(days=10)) == [
            "response", "resolution"]
        number = tickets.number_of(rt.rules, incident)
        s.commit()
    page = _text(login("agent@sit.test").get(f"/tickets/{number}").get_data(as_text=True))
    assert "missed the response target" in page and "missed the resolution target" in page
    assert "sla breach" not in page


def _comments(rt, number) -> list[str]:
    with rt.session_factory() as s:
        ticket_id = int(number.split("-")[1])
        return [e.data["body"] for e in s.scalars(
            select(TicketEvent).where(TicketEvent.ticket_id == ticket_id,
                                      TicketEvent.kind == "comment").order_by(TicketEvent.seq))]


def _comment_form(client, number, body):
    page = client.get(f"/tickets/{number}").get_data(as_text=True)
    seen = re.search(r'name="seen" value="(\d+)"', page).group(1)
    return {"csrf_token": csrf_of(page), "seen": seen, "body": body}


def _incident(rt) -> str:
    with rt.session_factory() as s:
        rep, rep_ctx = _actor(s, "rep@gst.test")
        number = tickets.number_of(rt.rules, tickets.submit_incident(s, rt.rules, rep, rep_ctx, {
            "system": "kort", "environment": "production", "title": "Slow", "impact": 3,
            "urgency": 3}, now=WORK_TIME))
        s.commit()
        return number


def test_a_comment_sent_twice_is_stored_once(app, world, rt, login):
    number = _incident(rt)
    client = login("rep@gst.test")
    form = _comment_form(client, number, "The logs are attached.")
    first = client.post(f"/tickets/{number}/comments", data=form)
    again = client.post(f"/tickets/{number}/comments", data=form)  # back button, resubmit
    assert first.status_code == again.status_code == 303
    assert first.headers["Location"] == again.headers["Location"]
    assert _comments(rt, number) == ["The logs are attached."]
    # another comment from the same old form is a new comment; so is the same text written
    # again on a fresh page
    client.post(f"/tickets/{number}/comments", data=dict(form, body="And a screenshot."))
    client.post(f"/tickets/{number}/comments",
                data=_comment_form(client, number, "The logs are attached."))
    assert _comments(rt, number) == ["The logs are attached.", "And a screenshot.",
                                     "The logs are attached."]
    timeline = _text(client.get(f"/tickets/{number}").get_data(as_text=True))
    assert timeline.count("The logs are attached.") == 2


def test_an_empty_comment_is_refused_and_stores_nothing(app, world, rt, login):
    number = _incident(rt)
    client = login("rep@gst.test")
    refused = client.post(f"/tickets/{number}/comments",
                          data=_comment_form(client, number, "   "))
    assert refused.status_code == 422 and 'id="body-error"' in refused.get_data(as_text=True)
    forged = client.post(f"/tickets/{number}/comments",
                         data=dict(_comment_form(client, number, "hi"), seen="9" * 40))
    assert forged.status_code == 303
    assert _comments(rt, number) == ["hi"]


def test_a_double_click_sent_at_once_stores_one_comment(app, world, rt, login):
    """Two posts of one form at the same moment (two tabs, or a double click that reaches the
    server twice): one comment, and both answers send the writer back to the ticket."""
    number = _incident(rt)
    clients = [login("rep@gst.test"), login("rep@gst.test")]
    forms = [_comment_form(c, number, "Double click") for c in clients]
    start = threading.Barrier(2)
    codes = []

    def post(client, form):
        start.wait()
        codes.append(client.post(f"/tickets/{number}/comments", data=form).status_code)

    threads = [threading.Thread(target=post, args=pair) for pair in zip(clients, forms,
                                                                           strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert codes == [303, 303]
    assert _comments(rt, number) == ["Double click"]
    with rt.session_factory() as s:
        assert s.scalar(select(func.count()).select_from(TicketEvent)
                        .where(TicketEvent.kind == "comment")) == 1


def test_a_twin_that_commits_first_leaves_one_comment(app, world, rt, login):
    """The twin of a post has stored the comment but not yet committed: the post waits for it
    (PostgreSQL: the ticket's row lock), then finds the twin's comment and stores none of its
    own."""
    number = _incident(rt)
    client = login("rep@gst.test")
    form = _comment_form(client, number, "Twin")
    twin = rt.session_factory()
    user, ctx = _actor(twin, "rep@gst.test")
    tickets.get_ticket(twin, rt.rules, ctx, number, for_update=True)
    tickets.add_comment(twin, rt.rules, user, ctx, number, "Twin", now=WORK_TIME)
    codes = []
    post = threading.Thread(target=lambda: codes.append(
        client.post(f"/tickets/{number}/comments", data=form).status_code))
    post.start()
    post.join(timeout=1)  # the post has read the ticket and waits for the twin
    twin.commit()
    twin.close()
    post.join(timeout=30)
    assert codes == [303]
    assert _comments(rt, number) == ["Twin"]


def test_the_answer_form_offers_only_the_stages_asked(app, world, rt, login):
    number = _change_waiting_on_the_customer(rt)
    page = login("boss@gst.test").get(f"/tickets/{number}").get_data(as_text=True)
    form = re.search(r'<form[^>]*/transitions/answer_consultation.*?</form>', page, re.S)
    assert form is not None, "the consulted customer is offered the answer"
    stages = re.findall(r'<option[^>]*value="([^"]+)"', form.group(0))
    assert stages == ["installation_test"]
    supplier = login("sup@supplier.test").get(f"/tickets/{number}")   # attached to kort
    assert supplier.status_code == 200
    assert "/transitions/answer_consultation" not in supplier.get_data(as_text=True)
