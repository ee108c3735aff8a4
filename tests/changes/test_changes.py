"""Change management on real databases: consultation gates on the development stages, the A of
every affected layer, standard changes from templates, emergency changes, the calendar, overlap
and freeze warnings, the CAB view and the recorded outcome."""

from __future__ import annotations

from datetime import timedelta

import pytest

from itilflow.domain.errors import InvalidTransition, NotPermitted, ValidationError
from itilflow.models import Consultation
from itilflow.services import changes, tickets
from tests.changes.common import NOW, available, fire, notices, submit_change

STAGES = [
    ("start_installation_test", "installation_test"),
    ("start_acceptance_test", "acceptance_test"),
    ("start_operational_test", "operational_test"),
    ("install_in_production", "installation_in_production"),
]


def approved_os_change(session, rules, world, **extra):
    change = submit_change(session, rules, world, **extra)
    fire(session, rules, world, "agent@sit.test", change, "assess")
    fire(session, rules, world, "agent@sit.test", change, "request_approval", risk="medium",
         impact_assessment="Reboot of both nodes, one at a time.")
    fire(session, rules, world, "boss@sit.test", change, "approve", comment="Go.")
    assert change.state == "approved"
    return change


def test_os_change_cannot_reach_production_until_the_customer_is_consulted(session, rules,
                                                                           world):
    change = approved_os_change(session, rules, world)
    assert change.responsible_party == "provider"
    for trigger, stage in STAGES:
        # SIT alone cannot move on: the stage waits for the customer's recorded answer
        assert trigger not in available(session, rules, world, "agent@sit.test", change)
        with pytest.raises(InvalidTransition, match="waits for the consultation of: customer"):
            fire(session, rules, world, "agent@sit.test", change, trigger)
        waiting = changes.waiting_on(session, rules, world.actor(session, "agent@sit.test")[1],
                                     change.id)
        assert {"trigger": trigger, "waiting_on": ["customer"]}.items() <= {
            **next(g for g in waiting["gates"] if g["trigger"] == trigger)}.items()
        fire(session, rules, world, "agent@sit.test", change, "consult", stage=stage,
             question=f"May we run the {stage} on Tuesday?")
        # SIT cannot answer for the customer
        assert "answer_consultation" not in available(session, rules, world, "agent@sit.test",
                                                      change)
        with pytest.raises(NotPermitted):
            fire(session, rules, world, "boss@sit.test", change, "answer_consultation",
                 stage=stage, answer="Yes")
        waiting = changes.waiting_on(session, rules, world.actor(session, "rep@gst.test")[1],
                                     change.id)
        assert [(c["stage"], c["party"]) for c in waiting["consultations"]] == [
            (stage, "customer")]
        assert waiting["waiting_on_parties"] == ["customer"]
        # with the customer's answer it can
        assert "answer_consultation" in available(session, rules, world, "agent@gst.test",
                                                  change)
        fire(session, rules, world, "agent@gst.test", change, "answer_consultation", stage=stage,
             answer="Yes, after 18:00.")
        assert trigger in available(session, rules, world, "agent@sit.test", change)
        fire(session, rules, world, "agent@sit.test", change, trigger)
    assert change.state == "implementing"
    fire(session, rules, world, "agent@sit.test", change, "complete", outcome="successful")
    fire(session, rules, world, "boss@sit.test", change, "close", comment="Fine.")
    assert change.state == "closed"
    assert change.details["outcome"] == "successful"
    answers = changes.consultations_of(session, rules, world.actor(session, "boss@sit.test")[1],
                                       change.id)
    assert [(a["stage"], a["party"], a["answered_by"]) for a in answers] == [
        (stage, "customer", "agent@gst.test") for _, stage in STAGES]
    assert all(a["question"] and a["answer"] and a["answered_at"] for a in answers)
    history = [e.trigger for e in tickets.events_of(session, change) if e.kind == "transition"]
    assert history.count("answer_consultation") == 4


def test_an_unanswered_question_keeps_the_gate_shut(session, rules, world):
    change = approved_os_change(session, rules, world)
    fire(session, rules, world, "agent@sit.test", change, "consult", stage="installation_test",
         question="OK?")
    with pytest.raises(InvalidTransition):
        fire(session, rules, world, "agent@sit.test", change, "start_installation_test")
    # an answer for another stage does not open this one
    fire(session, rules, world, "agent@sit.test", change, "consult", stage="acceptance_test",
         question="And the acceptance test?")
    fire(session, rules, world, "agent@gst.test", change, "answer_consultation",
         stage="acceptance_test", answer="Yes")
    with pytest.raises(InvalidTransition):
        fire(session, rules, world, "agent@sit.test", change, "start_installation_test")
    # another customer cannot answer, nor even see the change
    from itilflow.domain.errors import NotFound
    with pytest.raises(NotFound):
        fire(session, rules, world, "agent@erst.test", change, "answer_consultation",
             stage="installation_test", answer="Yes")
    assert session.query(Consultation).filter_by(ticket_id=change.id).count() == 2


def test_application_change_is_the_customers_alone(session, rules, world):
    with pytest.raises(NotPermitted):
        submit_change(session, rules, world, "agent@sit.test", layer="application")
    change = submit_change(session, rules, world, "agent@gst.test", layer="application")
    assert (change.responsible_party, change.accountable_party) == ("customer", "customer")
    for email in ("agent@sit.test", "boss@sit.test"):
        assert available(session, rules, world, email, change) == []
    with pytest.raises(NotPermitted):
        fire(session, rules, world, "agent@sit.test", change, "assess")
    fire(session, rules, world, "agent@gst.test", change, "assess")
    fire(session, rules, world, "agent@gst.test", change, "request_approval", risk="low",
         impact_assessment="None.")
    assert available(session, rules, world, "boss@sit.test", change) == []
    assert "approve" not in available(session, rules, world, "agent@gst.test", change)
    fire(session, rules, world, "boss@gst.test", change, "approve")
    for trigger, _ in STAGES:  # nobody else is consulted on the application layer
        assert available(session, rules, world, "agent@sit.test", change) == []
        fire(session, rules, world, "agent@gst.test", change, trigger)
    fire(session, rules, world, "agent@gst.test", change, "complete", outcome="successful")
    with pytest.raises(NotPermitted):
        fire(session, rules, world, "boss@sit.test", change, "close")
    fire(session, rules, world, "boss@gst.test", change, "close")
    assert change.state == "closed"


def test_each_affected_layer_needs_its_accountable_party(session, rules, world):
    change = submit_change(session, rules, world, affected_layers=["application"])
    assert change.details["affected_layers"] == ["operating_system", "application"]
    assert change.details["approvers"] == ["provider", "customer"]
    fire(session, rules, world, "agent@sit.test", change, "assess")
    fire(session, rules, world, "agent@sit.test", change, "request_approval", risk="high",
         impact_assessment="The application restarts.")
    sit_boss = world.actor(session, "boss@sit.test")[1]
    gst_boss = world.actor(session, "boss@gst.test")[1]
    cab = changes.cab_view(session, rules, sit_boss)
    assert [(c["number"], c["pending_approvals"], c["can_approve"]) for c in cab] == [
        (tickets.number_of(rules, change), ["provider", "customer"], True)]
    assert changes.cab_view(session, rules, world.actor(session, "boss@erst.test")[1]) == []
    # an agent is not an A; SIT approves for its layer only, once
    with pytest.raises(NotPermitted):
        fire(session, rules, world, "agent@gst.test", change, "approve")
    fire(session, rules, world, "boss@sit.test", change, "approve", comment="OS side fine.")
    assert change.state == "awaiting_approval"
    assert "approve" not in available(session, rules, world, "boss@sit.test", change)
    with pytest.raises(InvalidTransition, match="already has the approval of the provider"):
        fire(session, rules, world, "boss@sit.test", change, "approve")
    cab = changes.cab_view(session, rules, gst_boss)
    assert (cab[0]["pending_approvals"], cab[0]["can_approve"]) == (["customer"], True)
    assert changes.cab_view(session, rules, sit_boss)[0]["can_approve"] is False
    fire(session, rules, world, "boss@gst.test", change, "approve", comment="App side fine.")
    assert change.state == "approved"
    assert [a["party"] for a in change.details["approvals"]] == ["provider", "customer"]
    assert changes.cab_view(session, rules, sit_boss) == []


def test_any_affected_accountable_party_may_reject(session, rules, world):
    change = submit_change(session, rules, world, affected_layers=["middleware"])
    fire(session, rules, world, "agent@sit.test", change, "assess")
    fire(session, rules, world, "agent@sit.test", change, "request_approval", risk="high",
         impact_assessment="Database restart.")
    fire(session, rules, world, "boss@gst.test", change, "reject", comment="Not in our season.")
    assert change.state == "rejected"
    assert ("customer", "reject", True) in notices(session, change)


def test_standard_change_from_template_follows_its_matrix_row(session, rules, world):
    admin = world.actor(session, "admin@sit.test")[1]
    with pytest.raises(NotPermitted):
        changes.create_template(session, rules, world.actor(session, "agent@sit.test")[1],
                                {"key": "x", "name": "x", "activity": "patch_management",
                                 "layer": "infrastructure"}, now=NOW)
    with pytest.raises(ValidationError) as bad:
        changes.create_template(session, rules, admin, {"key": "Bad Key", "activity": "nope",
                                                        "layer": "cloud"}, now=NOW)
    assert set(bad.value.errors) == {"key", "name", "activity", "layer"}
    changes.create_template(session, rules, admin, {
        "key": "infra-patch", "name": "Firmware patch window", "activity": "patch_management",
        "layer": "infrastructure"}, now=NOW)
    changes.create_template(session, rules, admin, {
        "key": "os-patch", "name": "OS patch window", "activity": "patch_management",
        "layer": "operating_system"}, now=NOW)
    assert [t.key for t in changes.list_templates(session)] == ["infra-patch", "os-patch"]

    infra = submit_change(session, rules, world, template="infra-patch", layer=None,
                          change_type=None, title=None)
    assert (infra.activity, infra.layer, infra.title) == (
        "patch_management", "infrastructure", "Firmware patch window")
    assert infra.details["change_type"] == "standard" and infra.details["approvers"] == []
    assert available(session, rules, world, "agent@sit.test", infra) == [
        "assign", "pre_approve", "cancel"]
    for trigger in ("pre_approve", "implement"):
        fire(session, rules, world, "agent@sit.test", infra, trigger)
    fire(session, rules, world, "agent@sit.test", infra, "complete", outcome="successful")
    assert infra.state == "review"
    # footnote 5: on the infrastructure layer the customer hears only of errors and deviations
    assert [n for n in notices(session, infra) if n[0] == "customer"] == []
    failed = submit_change(session, rules, world, template="infra-patch", layer=None,
                           change_type=None, days=8)
    for trigger in ("pre_approve", "implement"):
        fire(session, rules, world, "agent@sit.test", failed, trigger)
    fire(session, rules, world, "agent@sit.test", failed, "complete", outcome="backed_out")
    assert [n for n in notices(session, failed) if n[0] == "customer"] == [
        ("customer", "complete", True)]
    # on the OS layer the customer is informed of every step
    os_change = submit_change(session, rules, world, template="os-patch", layer=None,
                              change_type=None, days=9)
    fire(session, rules, world, "agent@sit.test", os_change, "pre_approve")
    assert ("customer", "pre_approve", False) in notices(session, os_change)
    # the template's row decides who may raise it, and it is a standard change only
    with pytest.raises(NotPermitted):
        submit_change(session, rules, world, "agent@gst.test", template="os-patch", layer=None,
                      change_type=None)
    with pytest.raises(ValidationError) as bad:
        submit_change(session, rules, world, template="os-patch", change_type="normal")
    assert "change_type" in bad.value.errors


def test_emergency_change_is_authorised_at_once_and_reviewed_after(session, rules, world):
    change = submit_change(session, rules, world, change_type="emergency", days=0,
                           affected_layers=["application"])
    assert change.priority == "P2"
    cab = changes.cab_view(session, rules, world.actor(session, "boss@sit.test")[1])
    assert [(c["awaiting"], c["can_approve"]) for c in cab] == [("emergency_authorisation", True)]
    with pytest.raises(NotPermitted):
        fire(session, rules, world, "agent@sit.test", change, "authorise_emergency",
             comment="Zero-day.")
    fire(session, rules, world, "boss@sit.test", change, "authorise_emergency",
         comment="Zero-day in the kernel.")
    # QA round 6: the A who authorises is its approver, and the authorisation is its approval
    assert change.details["approvers"] == ["provider"]
    assert [(a["party"], a["by"], a["comment"]) for a in change.details["approvals"]] == [
        ("provider", "boss@sit.test", "Zero-day in the kernel.")]
    assert "start_installation_test" not in available(session, rules, world, "agent@sit.test",
                                                      change)
    fire(session, rules, world, "agent@sit.test", change, "emergency_install")
    fire(session, rules, world, "agent@sit.test", change, "complete", outcome="failed",
         comment="Rolled forward instead.")
    assert change.state == "review"
    # the review: the customer is consulted afterwards
    fire(session, rules, world, "agent@sit.test", change, "consult",
         stage="installation_in_production", question="Any impact seen on your side?")
    fire(session, rules, world, "agent@gst.test", change, "answer_consultation",
         stage="installation_in_production", answer="A short outage at 03:10.")
    fire(session, rules, world, "boss@sit.test", change, "close", comment="Reviewed.")
    assert change.state == "closed"
    assert change.details["outcome"] == "failed"


def test_calendar_overlap_and_freeze_warnings(session, rules, world):
    admin = world.actor(session, "admin@sit.test")[1]
    first = submit_change(session, rules, world, days=3, hours=4)
    assert first.details["warnings"] == []
    second = submit_change(session, rules, world, days=3, hours=1)  # inside the first window
    assert [w["kind"] for w in second.details["warnings"]] == ["overlap"]
    assert second.details["warnings"][0]["ticket"] == tickets.number_of(rules, first)
    elsewhere = submit_change(session, rules, world, days=3, system="arkiv")
    assert elsewhere.details["warnings"] == []  # another system: no overlap
    start = NOW + timedelta(days=10)
    changes.create_freeze_period(session, admin, {
        "name": "Year-end", "customer": "GST", "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(days=5)).isoformat()}, now=NOW)
    frozen = submit_change(session, rules, world, days=11)
    assert [w["kind"] for w in frozen.details["warnings"]] == ["freeze"]
    virk = submit_change(session, rules, world, days=11, system="virk")
    assert virk.details["warnings"] == []  # the freeze is GST's
    assert frozen.state == "new"  # a warning, not a refusal

    sit = world.actor(session, "agent@sit.test")[1]
    cal = changes.change_calendar(session, rules, sit, start=(NOW + timedelta(days=2)).isoformat(),
                                  end=(NOW + timedelta(days=4)).isoformat())
    assert [c["id"] for c in cal] == [first.id, second.id, elsewhere.id]
    assert [w["ticket"] for w in cal[0]["warnings"]] == [tickets.number_of(rules, second)]
    only_kort = changes.change_calendar(session, rules, sit, start=NOW, end=NOW + timedelta(
        days=30), system="kort")
    assert [c["id"] for c in only_kort] == [first.id, second.id, frozen.id]
    erst = world.actor(session, "rep@erst.test")[1]
    assert [c["id"] for c in changes.change_calendar(
        session, rules, erst, start=NOW, end=NOW + timedelta(days=30))] == [virk.id]
    with pytest.raises(ValidationError):
        changes.change_calendar(session, rules, sit, start="yesterday", end=NOW)
    with pytest.raises(ValidationError):
        changes.change_calendar(session, rules, sit, start=NOW, end=NOW - timedelta(days=1))
    fire(session, rules, world, "agent@sit.test", second, "cancel", comment="Merged.")
    assert changes.change_warnings(session, rules, sit, first.id) == []
    freezes = changes.list_freeze_periods(session, world.actor(session, "rep@gst.test")[1])
    assert [f.name for f in freezes] == ["Year-end"]
    assert changes.list_freeze_periods(session, erst) == []


def test_change_input_is_validated(session, rules, world):
    with pytest.raises(ValidationError) as bad:
        submit_change(session, rules, world, change_type="big", affected_layers=["cloud"],
                      planned_end="soon")
    assert {"change_type", "affected_layers", "planned_end"} <= set(bad.value.errors)
    with pytest.raises(ValidationError) as bad:
        submit_change(session, rules, world, template="no-such-template")
    assert "template" in bad.value.errors
    with pytest.raises(NotPermitted):
        submit_change(session, rules, world, "rep@gst.test", layer="application")
