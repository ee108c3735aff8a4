"""QA6 findings 2, 3, 4 and 5 (notifications of changes, problems and service requests), through
the services on real databases, and through a real SMTP server on loopback for the mails.

2. Requesting a change's approval asks the parties whose approval is still missing (their
   managers are mailed: they approve for it).
3. The working party (R) is told when the other party rejects its change or answers its
   consultation (changes and service requests); the ``reject`` event says whose refusal it is.
4. Cancelling a change tells its I parties and the approvers (those that approved it, and those
   still asked to); cancelling a problem tells its I parties.
5. The notice of a change's outcome states it (failed, backed out), in Danish too.
"""

from __future__ import annotations

import textwrap

import pytest

from itilflow.domain.errors import ConfigError
from itilflow.domain.workflow import load_workflow
from itilflow.services import changes, directory, notifications, requests, tickets
from tests.changes.common import fire, submit_change, window
from tests.conftest import WORK_TIME, set_locales
from tests.paging.conftest import fire as fire_committed
from tests.services.test_notify_points import Inbox

NOW = WORK_TIME


@pytest.fixture
def mailer(mail_reader):
    """The mails sent since the last call, as (recipients, subject, text)."""
    return lambda: [(rcpt, subject, text) for rcpt, _to, subject, text in mail_reader(NOW)]


def _raise_change(rt, email="agent@sit.test", *, system="kort", layer="operating_system",
                  change_type="normal", **extra) -> tuple[str, str]:
    """A change raised and committed: (number, title)."""
    start, end = window(7)
    with rt.session_factory() as s, s.begin():
        user = directory.user_by_email(s, email)
        change = changes.submit_change(s, rt.rules, user, directory.load_actor(s, user), {
            "system": system, "environment": "production", "layer": layer,
            "change_type": change_type, "title": f"Upgrade {layer}", "description": "Planned.",
            "planned_start": start, "planned_end": end, **extra}, now=NOW)
        return tickets.number_of(rt.rules, change), change.title


def _step(rt, number, trigger, email="agent@sit.test", **data):
    fire_committed(rt, number, trigger, email=email, now=NOW, **data)


def _as(inbox: Inbox, event: str) -> dict[str, list[str]]:
    """Per party told of ``event``: why (``as``)."""
    return {p["party"]: p["as"] for p in inbox.payloads(event)}


# --- 2. the approvers are asked -------------------------------------------------------------

def test_requesting_approval_asks_the_approvers_managers(rt, world, mailer):
    """SIT's infrastructure change on ERST's Virk touches ERST's middleware: ERST's A and SIT's
    must approve. Both are asked; only their managers are mailed (the requesting agent is not
    mailed of its own step, nor SIT's other agents); ERST's manager reads Danish."""
    set_locales(rt, **{"boss@erst.test": "da"})
    number, title = _raise_change(rt, system="virk", layer="infrastructure",
                                  affected_layers=["middleware"])
    _step(rt, number, "assess")
    mailer()
    _step(rt, number, "request_approval", risk="medium", impact_assessment="DB restart.")
    assert mailer() == [
        (["boss@erst.test"], f"[itilflow] {number} {title}: beder om jeres godkendelse",
         f"{number} {title}: agent@sit.test beder jeres organisation om at godkende den; den "
         "er nu Afventer godkendelse. Godkend eller afvis den på sagen."),
        (["boss@sit.test"], f"[itilflow] {number} {title}: asks for your approval",
         f"{number} {title}: agent@sit.test asks your organisation to approve it; it is now "
         "Awaiting approval. Approve or reject it on the ticket."),
    ]
    # SIT approves: ERST is still to approve; nobody is asked again by an approval
    _step(rt, number, "approve", email="boss@sit.test")
    assert mailer() == []


def test_a_suppliers_approval_request_asks_its_customers_managers(rt, world, mailer):
    """The supplier works GST's application change on kort; approving it is GST's (its A),
    never the supplier's: GST's managers are asked."""
    number, title = _raise_change(rt, "sup@supplier.test", layer="application")
    _step(rt, number, "assess", email="sup@supplier.test")
    mailer()
    _step(rt, number, "request_approval", email="sup@supplier.test", risk="low",
          impact_assessment="None.")
    assert mailer() == [
        (["boss@gst.test"], f"[itilflow] {number} {title}: asks for your approval",
         f"{number} {title}: sup@supplier.test asks your organisation to approve it; it is "
         "now Awaiting approval. Approve or reject it on the ticket."),
    ]


def test_the_approvers_are_the_missing_ones_and_the_informed_still_told(session, rules, world):
    change = submit_change(session, rules, world, affected_layers=["middleware"])  # on kort
    inbox = Inbox(session, change)
    inbox.new()
    fire(session, rules, world, "agent@sit.test", change, "assess")
    assert inbox.new() == []  # asked only when the approval is requested
    fire(session, rules, world, "agent@sit.test", change, "request_approval", risk="low",
         impact_assessment="None.")
    assert inbox.new() == [("GST", "customer", "request_approval"),
                           ("SIT", "provider", "request_approval")]
    # GST is I of OS changes and an approver: its staff are told, as before
    assert _as(inbox, "request_approval") == {"customer": ["I", "approvers"],
                                              "provider": ["approvers"]}


# --- 3. the working party hears of a rejection and of an answer -----------------------------

def test_a_rejection_tells_the_working_party_and_says_whose(session, rules, world):
    change = submit_change(session, rules, world, system="virk", layer="infrastructure",
                           affected_layers=["middleware"])
    inbox = Inbox(session, change)
    fire(session, rules, world, "agent@sit.test", change, "assess")
    fire(session, rules, world, "agent@sit.test", change, "request_approval", risk="high",
         impact_assessment="Database restart.")
    fire(session, rules, world, "boss@sit.test", change, "approve", comment="Fine by us.")
    inbox.new()
    fire(session, rules, world, "boss@erst.test", change, "reject", comment="Not in our season.")
    assert change.state == "rejected"
    # no I on infrastructure changes: SIT, which works it (and approved it), is told
    assert inbox.new() == [("SIT", "provider", "reject")]
    assert _as(inbox, "reject") == {"provider": ["R", "approved"]}
    [told] = inbox.payloads("reject")
    assert notifications.message_text(told, rules) == (
        f"{told['number']} Upgrade infrastructure: boss@erst.test chose \"Reject\"; it is now "
        "Rejected. Comment: \"Not in our season.\"")
    [event] = [e for e in tickets.events_of(session, change) if e.trigger == "reject"]
    assert event.data["rejected_for"] == "customer"
    approved = [e for e in tickets.events_of(session, change) if e.trigger == "approve"]
    assert approved[0].data["approved_for"] == "provider"


def test_an_answered_consultation_on_a_change_tells_the_working_party(session, rules, world):
    change = submit_change(session, rules, world)  # SIT's OS change on kort; GST is C
    inbox = Inbox(session, change)
    fire(session, rules, world, "agent@sit.test", change, "assess")
    fire(session, rules, world, "agent@sit.test", change, "consult", stage="installation_test",
         question="Tuesday?")
    inbox.new()
    fire(session, rules, world, "agent@gst.test", change, "answer_consultation",
         stage="installation_test", answer="Tuesday is fine.")
    assert inbox.new() == [("SIT", "provider", "answer_consultation")]
    [told] = inbox.payloads("answer_consultation")
    assert told["as"] == ["R"]
    assert notifications.message_text(told, rules) == (
        f"{told['number']} Upgrade operating_system: agent@gst.test answered your consultation "
        "(Installation test (installationsprøve)): \"Tuesday is fine.\" It is "
        "Assessment.")
    assert notifications.mail_subject(told, rules).endswith(": answered")


def test_an_answered_consultation_on_a_request_tells_the_working_party(session, rules, world):
    """Footnote 7: GST asks SIT to restore its middleware, in consultation with GST."""
    user, ctx = world.actor(session, "rep@gst.test")
    req = requests.submit_request(session, rules, user, ctx, {
        "system": "kort", "environment": "production", "layer": "middleware",
        "activity": "restore", "title": "Restore the orders database", "on_request": True},
        now=NOW)
    inbox = Inbox(session, req)
    fire(session, rules, world, "agent@sit.test", req, "start_work")
    fire(session, rules, world, "agent@sit.test", req, "consult", question="02:00 or 01:30?")
    inbox.new()
    fire(session, rules, world, "agent@gst.test", req, "answer_consultation", answer="02:00.")
    assert inbox.new() == [("SIT", "provider", "answer_consultation")]
    assert "answered your consultation (Restore): \"02:00.\"" in \
        notifications.message_text(inbox.payloads("answer_consultation")[0], rules)


# --- 4. a cancelled change (or problem) is told ---------------------------------------------

def test_cancelling_an_approved_change_tells_the_informed_and_the_approvers(rt, world, mailer):
    number, title = _raise_change(rt, affected_layers=["middleware"])  # SIT's OS change, kort
    _step(rt, number, "assess")
    _step(rt, number, "request_approval", risk="low", impact_assessment="None.")
    _step(rt, number, "approve", email="boss@sit.test")
    _step(rt, number, "approve", email="boss@gst.test")
    mailer()
    _step(rt, number, "cancel", comment="Postponed to January.")
    text = (f"{number} {title}: agent@sit.test chose \"Cancel\"; it is now Cancelled. "
            "Comment: \"Postponed to January.\"")
    # GST is I of OS changes (its staff) and approved it; SIT approved it (its managers)
    assert mailer() == [
        (["agent@gst.test", "boss@gst.test"], f"[itilflow] {number} {title}: Cancelled", text),
        (["boss@sit.test"], f"[itilflow] {number} {title}: Cancelled", text),
    ]


def test_cancelling_tells_the_approvers_only_once_asked(session, rules, world):
    change = submit_change(session, rules, world, system="virk", layer="infrastructure",
                           affected_layers=["middleware"])  # nobody is I
    inbox = Inbox(session, change)
    fire(session, rules, world, "agent@sit.test", change, "assess")
    fire(session, rules, world, "agent@sit.test", change, "cancel", comment="Not needed.")
    assert inbox.new() == []  # never asked to approve: nothing to call off
    asked = submit_change(session, rules, world, system="virk", layer="infrastructure",
                          affected_layers=["middleware"], days=9)
    inbox = Inbox(session, asked)
    fire(session, rules, world, "agent@sit.test", asked, "assess")
    fire(session, rules, world, "agent@sit.test", asked, "request_approval", risk="low",
         impact_assessment="None.")
    fire(session, rules, world, "boss@erst.test", asked, "approve")
    inbox.new()
    fire(session, rules, world, "agent@sit.test", asked, "cancel", comment="Not needed.")
    assert inbox.new() == [("ERST", "customer", "cancel"), ("SIT", "provider", "cancel")]
    assert _as(inbox, "cancel") == {"customer": ["approved"], "provider": ["approvers"]}
    # a cancellation is no request for approval
    assert "asks your organisation to approve" not in notifications.message_text(
        inbox.payloads("cancel")[1], rules)


def test_cancelling_a_problem_tells_the_informed(session, rules, world):
    user, ctx = world.actor(session, "agent@sit.test")
    problem = tickets.submit_problem(session, rules, user, ctx, {
        "system": "kort", "layer": "operating_system", "title": "Disk fills up"}, now=NOW)
    inbox = Inbox(session, problem)
    inbox.new()
    fire(session, rules, world, "boss@sit.test", problem, "cancel", comment="Duplicate.")
    assert problem.state == "cancelled"
    assert inbox.new() == [("GST", "customer", "cancel")]  # I of OS problems


# --- 5. the outcome is stated -----------------------------------------------------------------

@pytest.mark.parametrize(("outcome", "en", "da"), [
    ("failed", "failed", "fejlet"),
    ("backed_out", "backed out", "rullet tilbage"),
])
def test_the_outcome_notice_states_the_outcome(rt, world, mailer, outcome, en, da):
    set_locales(rt, **{"boss@gst.test": "da"})
    number, title = _raise_change(rt, change_type="emergency")  # SIT's OS change; GST is I
    _step(rt, number, "authorise_emergency", email="boss@sit.test", comment="Disk failing.")
    _step(rt, number, "emergency_install")
    mailer()
    _step(rt, number, "complete", outcome=outcome, comment="bricked")
    assert mailer() == [
        (["agent@gst.test"], f"[itilflow] {number} {title}: outcome: {en}",
         f"{number} {title}: agent@sit.test recorded the outcome: {en}; it is now Review. "
         "Comment: \"bricked\""),
        (["boss@gst.test"], f"[itilflow] {number} {title}: udfald: {da}",
         f"{number} {title}: agent@sit.test har registreret udfaldet: {da}; den er nu "
         "Evaluering. Kommentar: \"bricked\""),
    ]


# --- the notify targets are checked at load ---------------------------------------------------

def test_the_approval_targets_are_known_notify_targets(tmp_path, rules):
    notify = {s.trigger: s.notify for s in rules.workflow("change").transitions}
    assert notify["request_approval"] == ("I", "approvers")
    assert notify["cancel"] == ("I", "approved", "approvers")
    assert notify["reject"] == ("I", "R", "approved")
    body = textwrap.dedent("""\
        name: t
        kind: t
        prefix: T
        activity: change_management
        initial: new
        states:
          new: {}
          done: {final: true}
        transitions:
          - {trigger: go, source: new, dest: done, allowed: [R], notify: [approvers, approved]}
          - {trigger: end, source: new, dest: done, allowed: [R], notify: [approver]}
        """)
    path = tmp_path / "t.yaml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(ConfigError, match="notify 'approver' is not one of A, I, R, approved, "
                                          "approvers, reporter"):
        load_workflow(path, rules.matrix)
    path.write_text(body.replace(", notify: [approver]", ""), encoding="utf-8")
    assert load_workflow(path, rules.matrix).transitions[0].notify == ("approvers", "approved")


def test_a_rejected_request_tells_the_requester_and_who_would_have_done_it(session, rules,
                                                                           world):
    """Footnote 7: GST asks SIT to restore its middleware; GST's A refuses it after all. SIT,
    which would have done it, and the requester's side hear of it (only I were told)."""
    user, ctx = world.actor(session, "rep@gst.test")
    req = requests.submit_request(session, rules, user, ctx, {
        "system": "kort", "environment": "production", "layer": "middleware",
        "activity": "restore", "title": "Restore the orders database", "on_request": True},
        now=NOW)
    inbox = Inbox(session, req)
    inbox.new()
    fire(session, rules, world, "boss@gst.test", req, "reject", comment="Not needed after all.")
    assert sorted(inbox.new()) == [("GST", "customer", "reject"), ("SIT", "provider", "reject")]
    assert set(_as(inbox, "reject")["provider"]) >= {"R"}
    assert "reporter" in _as(inbox, "reject")["customer"]
