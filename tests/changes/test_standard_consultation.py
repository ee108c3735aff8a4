"""QA3 finding 3: a standard change whose template's row has a C party (installation in
production on the operating system layer: the customer; backup on middleware: the customer)
waits for that party's answer before its window, as the normal path's install_in_production
does. Its consultation is about the template's row (no stage to choose); a template whose row
has no C party goes straight to its window. Through the services on real databases, and the
workflow validation that keeps a consulted gate from being one nobody can open."""

from __future__ import annotations

import textwrap

import pytest

from itilflow.domain.errors import ConfigError, InvalidTransition, NotPermitted, ValidationError
from itilflow.domain.raci import load_matrix
from itilflow.domain.workflow import load_workflow
from itilflow.models import Consultation
from itilflow.services import changes, tickets
from itilflow.settings import PROJECT_ROOT
from tests.changes.common import NOW, available, fire, notices, submit_change

ANSWERERS = ("agent@gst.test", "boss@gst.test")
NOT_ANSWERERS = ("sup@supplier.test", "agent@sit.test", "boss@sit.test", "rep@gst.test")


def template(session, rules, world, key, activity, layer):
    _, admin = world.actor(session, "admin@sit.test")
    return changes.create_template(session, rules, admin, {
        "key": key, "name": f"{activity} on {layer}", "activity": activity, "layer": layer},
        now=NOW)


def standard(session, rules, world, key, activity, layer, email="agent@sit.test"):
    template(session, rules, world, key, activity, layer)
    change = submit_change(session, rules, world, email, template=key, layer=None,
                           change_type=None, title=None)
    assert (change.activity, change.layer) == (activity, layer)
    fire(session, rules, world, email, change, "pre_approve")
    assert change.state == "approved"
    return change


def test_installation_in_production_on_the_os_waits_for_the_customer(session, rules, world):
    change = standard(session, rules, world, "os-install", "installation_in_production",
                      "operating_system")
    # the window does not start: not offered, and a 409 that names whom it waits for
    assert "implement" not in available(session, rules, world, "agent@sit.test", change)
    with pytest.raises(InvalidTransition, match="waits for the consultation of: customer") \
            as shut:
        fire(session, rules, world, "agent@sit.test", change, "implement")
    assert shut.value.status == 409
    waiting = changes.waiting_on(session, rules, world.actor(session, "agent@sit.test")[1],
                                 change.id)
    assert waiting["gates"] == [{"trigger": "implement", "label": "Start the change window",
                                 "activity": "installation_in_production",
                                 "waiting_on": ["customer"]}]
    # SIT asks about the template's row: the form has no stage to choose
    assert "consult" in available(session, rules, world, "agent@sit.test", change)
    _, sit = world.actor(session, "agent@sit.test")
    [form] = [s for s in tickets.available_specs(session, rules, sit, change)
              if s.trigger == "consult"]
    assert [f.name for f in form.fields] == ["question"]
    fire(session, rules, world, "agent@sit.test", change, "consult",
         question="May we install the new kernel on Thursday night?")
    [asked] = session.query(Consultation).filter_by(ticket_id=change.id).all()
    assert (asked.activity, asked.party) == ("installation_in_production", "customer")
    assert [p for p, *_ in notices(session, change, "consultation")] == ["customer"]
    # only the customer itself answers: not its supplier, not SIT, not a reporter
    for email in ANSWERERS:
        assert "answer_consultation" in available(session, rules, world, email, change), email
    for email in NOT_ANSWERERS:
        assert "answer_consultation" not in available(session, rules, world, email, change), \
            email
    with pytest.raises(NotPermitted):
        fire(session, rules, world, "sup@supplier.test", change, "answer_consultation",
             answer="Sure.")
    assert "implement" not in available(session, rules, world, "agent@sit.test", change)
    fire(session, rules, world, "boss@gst.test", change, "answer_consultation",
         answer="Yes, after 22:00.")
    assert asked.answered_at is not None and asked.answer == "Yes, after 22:00."
    assert "implement" in available(session, rules, world, "agent@sit.test", change)
    fire(session, rules, world, "agent@sit.test", change, "implement")
    assert change.state == "implementing"


def test_a_row_without_a_c_party_goes_straight_to_its_window(session, rules, world):
    change = standard(session, rules, world, "os-patch", "patch_management", "operating_system")
    found = available(session, rules, world, "agent@sit.test", change)
    assert "implement" in found and "consult" not in found
    with pytest.raises(InvalidTransition, match="Nobody is consulted on Patch management"):
        fire(session, rules, world, "agent@sit.test", change, "consult", question="Anyone?")
    fire(session, rules, world, "agent@sit.test", change, "implement")
    assert change.state == "implementing"


def test_backup_on_middleware_waits_for_the_customer(session, rules, world):
    """A row outside the normal path's stage list: SIT is R, the customer C (and A)."""
    change = standard(session, rules, world, "mw-backup", "backup", "middleware")
    assert change.responsible_party == "provider"
    assert "implement" not in available(session, rules, world, "agent@sit.test", change)
    fire(session, rules, world, "agent@sit.test", change, "consult",
         question="May we check the restore of last night's backup?")
    assert available(session, rules, world, "agent@gst.test", change) == ["answer_consultation"]
    fire(session, rules, world, "agent@gst.test", change, "answer_consultation", answer="Yes.")
    fire(session, rules, world, "agent@sit.test", change, "implement")
    assert change.state == "implementing"


def test_the_customer_may_answer_before_the_pre_approval(session, rules, world):
    template(session, rules, world, "os-install", "installation_in_production",
             "operating_system")
    change = submit_change(session, rules, world, template="os-install", layer=None,
                           change_type=None, title=None)
    fire(session, rules, world, "agent@sit.test", change, "consult", question="Thursday?")
    fire(session, rules, world, "agent@gst.test", change, "answer_consultation", answer="Yes.")
    fire(session, rules, world, "agent@sit.test", change, "pre_approve")
    fire(session, rules, world, "agent@sit.test", change, "implement")
    assert change.state == "implementing"


def test_the_normal_path_keeps_its_stages(session, rules, world):
    """The normal change still asks per stage, and a stage is still required there."""
    change = submit_change(session, rules, world)
    fire(session, rules, world, "agent@sit.test", change, "assess")
    with pytest.raises(ValidationError) as bad:
        fire(session, rules, world, "agent@sit.test", change, "consult", question="When?")
    assert "stage" in bad.value.errors
    fire(session, rules, world, "agent@sit.test", change, "consult", stage="installation_test",
         question="When?")
    assert [p for p, *_ in notices(session, change, "consultation")] == ["customer"]


# --- the workflow data: a consulted gate somebody can open ---------------------------------

MATRIX = load_matrix(PROJECT_ROOT / "config" / "raci.yaml")
FLOW = """
name: t
kind: t
prefix: TT
activity: restore
initial: new
states:
  new: {}
  done: {final: true}
transitions:
  - {trigger: go, source: new, dest: done, allowed: [R], gate: consulted, when: {x: a}}
"""
ASK = "  - {trigger: ask, source: new, allowed: [R], gate: consultable, %s}\n"
ANSWER = "  - {trigger: answer, source: new, allowed: [C], gate: open_consultation, %s}\n"


def _load(tmp_path, body):
    path = tmp_path / "t.yaml"
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return load_workflow(path, MATRIX)


@pytest.mark.parametrize(("extra", "message"), [
    ("", "no transition with gate: consultable"),
    (ASK % "when: {x: a}", "no transition with gate: open_consultation"),
    (ASK % "when: {x: b}" + ANSWER % "when: {x: a}", "no transition with gate: consultable"),
    (ASK % "fields: {stage: {type: choice, choices: [backup]}}" + ANSWER % "when: {x: a}",
     "no transition with gate: consultable lets the R ask the C parties about the ticket's "
     "own row"),
])
def test_a_consulted_gate_nobody_can_open_is_refused(tmp_path, extra, message):
    with pytest.raises(ConfigError, match=message) as refused:
        _load(tmp_path, FLOW + extra)
    assert f"{tmp_path / 't.yaml'}:11:" in str(refused.value)  # the gated transition's line


def test_a_consulted_gate_with_its_consultation_loads(tmp_path):
    wf = _load(tmp_path, FLOW + ASK % "when: {x: [a, b]}" + ANSWER % "when: {x: [a]}")
    assert [t.gate for t in wf.transitions] == ["consulted", "consultable", "open_consultation"]


def test_the_shipped_change_workflow_gates_the_standard_window():
    wf = load_workflow(PROJECT_ROOT / "workflows" / "change.yaml", MATRIX)
    [implement] = [t for t in wf.transitions if t.trigger == "implement"]
    assert implement.gate == "consulted" and implement.activity is None  # the template's row
