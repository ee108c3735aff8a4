"""Who may fire what, beyond the letter: a supplier is not the customer's C or A, gates that
are shut now (no open consultation, already approved, already acknowledged) are 409 and not
offered, and refusals read as sentences for users. No database: the rules alone."""

from __future__ import annotations

import re
import textwrap

import pytest

from itilflow.domain import access
from itilflow.domain.access import Actor, TicketFacts
from itilflow.domain.errors import ConfigError, InvalidTransition, NotPermitted
from itilflow.domain.parties import Layer, Party, Role
from itilflow.domain.raci import load_matrix
from itilflow.domain.workflow import load_workflow, load_workflows
from itilflow.settings import PROJECT_ROOT

MATRIX = load_matrix(PROJECT_ROOT / "config" / "raci.yaml")
FLOWS = load_workflows(PROJECT_ROOT / "workflows", MATRIX)
SIT, GST, SUPPLIER_ORG, KORT = 1, 2, 7, 10

SIT_AGENT = Actor(user_id=1, role=Role.SIT_AGENT, organisation_id=SIT)
SIT_BOSS = Actor(user_id=2, role=Role.SIT_MANAGER, organisation_id=SIT)
GST_AGENT = Actor(user_id=3, role=Role.CUSTOMER_AGENT, organisation_id=GST)
GST_BOSS = Actor(user_id=4, role=Role.CUSTOMER_MANAGER, organisation_id=GST)
GST_REPORTER = Actor(user_id=100, role=Role.REPORTER, organisation_id=GST)
SUPPLIER = Actor(user_id=5, role=Role.SUPPLIER_AGENT, organisation_id=SUPPLIER_ORG,
                 system_ids=frozenset({KORT}))
ADMIN = Actor(user_id=6, role=Role.ADMIN, organisation_id=SIT)


def change(state="installation_test", layer=Layer.OPERATING_SYSTEM, **kw) -> TicketFacts:
    return TicketFacts(kind="change", state=state, activity="change_management", layer=layer,
                       customer_id=GST, system_id=KORT, reporter_id=1,
                       fields={"change_type": "normal", **kw.pop("fields", {})}, **kw)


def incident(layer=Layer.OPERATING_SYSTEM, state="in_progress", **kw) -> TicketFacts:
    return TicketFacts(kind="incident", state=state, activity="incident_management",
                       layer=layer, customer_id=GST, system_id=KORT, reporter_id=100, **kw)


ASKED = frozenset({("acceptance_test", Party.CUSTOMER)})


# --- item 6: the consulted and accountable party is the customer itself ----------------------

def test_a_supplier_works_for_the_customer_but_never_answers_for_it():
    wf = FLOWS["change"]
    asked = change(open_consultations=ASKED)
    assert "answer_consultation" in access.available_triggers(MATRIX, wf, asked, GST_AGENT)
    assert "answer_consultation" in access.available_triggers(MATRIX, wf, asked, GST_BOSS)
    assert "answer_consultation" not in access.available_triggers(MATRIX, wf, asked, SUPPLIER)
    with pytest.raises(NotPermitted, match="only the customer itself gives its consent"):
        access.authorise_fire(MATRIX, wf, asked, SUPPLIER, "answer_consultation")
    # still R on the customer's layers of the systems it is attached to
    app = change(state="assessment", layer=Layer.APPLICATION)
    assert "request_approval" in access.available_triggers(MATRIX, wf, app, SUPPLIER)


def test_a_supplier_holds_r_and_i_of_the_customer_but_not_c_or_a():
    cell = MATRIX.cell("installation_test", Layer.OPERATING_SYSTEM)  # customer: CI
    ticket = change()
    assert access.holds(GST_AGENT, ticket, cell, "C")
    assert not access.holds(SUPPLIER, ticket, cell, "C")
    assert access.holds(SUPPLIER, ticket, cell, "I")
    app = MATRIX.cell("incident_management", Layer.APPLICATION)  # customer: AR
    assert access.holds(SUPPLIER, incident(Layer.APPLICATION), app, "R")
    assert not access.holds(SUPPLIER, incident(Layer.APPLICATION), app, "A")


# --- item 7: offered only when firing it would not be refused ----------------------------------

def test_answer_is_offered_only_while_a_consultation_of_the_actors_party_is_open():
    wf = FLOWS["change"]
    for facts in (change(), change(consulted=ASKED)):  # none asked yet; asked and answered
        assert "answer_consultation" not in access.available_triggers(MATRIX, wf, facts,
                                                                      GST_AGENT)
        with pytest.raises(InvalidTransition,
                           match=r"^No consultation of the customer is open on this ticket\.$"):
            access.authorise_fire(MATRIX, wf, facts, GST_AGENT, "answer_consultation")
    # SIT holds no C here: that stays a 403, open consultation or not
    with pytest.raises(NotPermitted):
        access.authorise_fire(MATRIX, wf, change(open_consultations=ASKED), SIT_AGENT,
                              "answer_consultation")


def test_the_answer_form_offers_the_open_stages_only():
    wf = FLOWS["change"]
    asked = change(open_consultations=ASKED | {("operational_test", Party.CUSTOMER)},
                   consulted=frozenset({("installation_test", Party.CUSTOMER)}))
    spec = wf.spec_for("installation_test", "answer_consultation", asked.fields)
    assert len(spec.field("stage").choices) == 7
    offered = access.offered_spec(MATRIX, asked, GST_AGENT, spec)
    assert offered.field("stage").choices == ("acceptance_test", "operational_test")
    assert offered.field("answer") == spec.field("answer")
    assert spec.field("stage").choices != offered.field("stage").choices  # the workflow's own


def test_consult_is_offered_only_where_someone_is_consulted():
    wf = FLOWS["change"]
    os_change, app_change = change(state="approved"), change(state="approved",
                                                              layer=Layer.APPLICATION)
    assert "consult" in access.available_triggers(MATRIX, wf, os_change, SIT_AGENT)
    spec = access.offered_spec(MATRIX, os_change, SIT_AGENT,
                               wf.spec_for("approved", "consult", os_change.fields))
    assert set(spec.field("stage").choices) == {
        "installation_test", "acceptance_test", "operational_test",
        "installation_in_production", "design", "documentation", "ongoing_development"}
    # on the application layer the customer is R and nobody else is C: nobody to ask
    assert "consult" not in access.available_triggers(MATRIX, wf, app_change, GST_AGENT)
    with pytest.raises(InvalidTransition, match="Nobody is consulted on any stage for the "
                                                "application layer"):
        access.authorise_fire(MATRIX, wf, app_change, GST_AGENT, "consult")


def test_acknowledge_once():
    wf = FLOWS["incident"]
    assert "acknowledge" in access.available_triggers(MATRIX, wf, incident(), SIT_AGENT)
    done = incident(acknowledged=True)
    assert "acknowledge" not in access.available_triggers(MATRIX, wf, done, SIT_AGENT)
    assert "resolve" in access.available_triggers(MATRIX, wf, done, SIT_AGENT)
    with pytest.raises(InvalidTransition, match=r"^This ticket is already acknowledged\.$"):
        access.authorise_fire(MATRIX, wf, done, SIT_AGENT, "acknowledge")
    # who may is still a 403 first
    with pytest.raises(NotPermitted):
        access.authorise_fire(MATRIX, wf, done, GST_AGENT, "acknowledge")


def test_a_manager_who_approved_is_told_so():
    wf = FLOWS["change"]
    both = dict(state="awaiting_approval",
                affected_layers=(Layer.OPERATING_SYSTEM, Layer.APPLICATION))
    waiting = change(**both, fields={"approval": "more"})
    assert "approve" in access.available_triggers(MATRIX, wf, waiting, GST_BOSS)
    approved = change(**both, approved_by=frozenset({Party.CUSTOMER}), fields={"approval": "last"})
    assert "approve" not in access.available_triggers(MATRIX, wf, approved, GST_BOSS)
    assert "approve" in access.available_triggers(MATRIX, wf, approved, SIT_BOSS)
    with pytest.raises(InvalidTransition,
                       match=r"^This change already has the approval of the customer\.$"):
        access.authorise_fire(MATRIX, wf, approved, GST_BOSS, "approve")
    # an agent is not an A at all: 403, naming both accountable parties
    with pytest.raises(NotPermitted) as refused:
        access.authorise_fire(MATRIX, wf, approved, GST_AGENT, "approve")
    assert refused.value.message == (
        'Only managers of the provider (SIT) or the customer may use "Approve" on this ticket: '
        "they are accountable for its affected layers.")


# --- item 14: refusals are sentences --------------------------------------------------------

@pytest.mark.parametrize(("facts", "actor", "trigger", "message"), [
    (incident(), GST_REPORTER, "resolve",
     'Only agents and managers of the provider (SIT) may use "Resolve" on this ticket: it is '
     "responsible for the operating system layer."),
    (incident(Layer.APPLICATION), SIT_AGENT, "resolve",
     'Only agents and managers of the customer may use "Resolve" on this ticket: it is '
     "responsible for the application layer."),
    (incident(None, "new"), GST_AGENT, "reclassify",
     'Only agents and managers of the provider (SIT) may use "Reclassify layer" on this '
     "ticket: it triages tickets whose layer is not yet known."),
    (incident(state="resolved"), SIT_AGENT, "close",
     'Only managers of the provider (SIT) may use "Close" on this ticket: it is accountable '
     "for the operating system layer."),
    (incident(Layer.APPLICATION, "resolved"), SUPPLIER, "close",
     'A supplier works for the customer but may not use "Close" on this ticket: only the '
     "customer itself gives its consent or approval."),
    (incident(state="resolved"), SIT_AGENT, "confirm",
     'Only the person who reported this ticket, or a reporter of its organisation, may use '
     '"Confirm resolution" on it.'),
    (change(open_consultations=ASKED), SIT_BOSS, "answer_consultation",
     'Only agents and managers of the customer may use "Answer consultation" on this ticket: '
     "it is consulted on the operating system layer."),
    (incident(), ADMIN, "resolve", "Admins configure itilflow; they do not work tickets."),
])
def test_a_refusal_says_who_may_and_why(facts, actor, trigger, message):
    with pytest.raises(NotPermitted) as refused:
        access.authorise_fire(MATRIX, FLOWS[facts.kind], facts, actor, trigger)
    assert refused.value.message == message


def test_no_refusal_shows_internal_names():
    """Every refusal of every trigger to every role, in every state of every workflow: no dict,
    no repr, no role or layer key."""
    internal = re.compile(r"[{}\[\]]|'[a-z_]+'|\b(?:sit_agent|customer_agent|operating_system|"
                          r"supplier_agent|reporter may)\b")
    seen = 0
    for wf in FLOWS.values():
        for state in wf.states:
            for layer in (None, *Layer):
                facts = TicketFacts(kind=wf.kind, state=state, activity=wf.activity, layer=layer,
                                    customer_id=GST, system_id=KORT, reporter_id=100,
                                    fields={"change_type": "normal", "approval": "last"})
                for actor in (SIT_AGENT, SIT_BOSS, GST_AGENT, GST_BOSS, GST_REPORTER, SUPPLIER,
                              ADMIN):
                    for spec in wf.transitions_from(state, facts.fields):
                        if access.may_fire(MATRIX, wf, facts, actor, spec):
                            continue
                        text = access.refusal(MATRIX, wf, facts, actor, spec)
                        assert not internal.search(text), text
                        assert text[0].isupper() and text.endswith("."), text
                        seen += 1
    assert seen > 500


# --- the workflow data --------------------------------------------------------------------

BASE = """
name: t
kind: t
prefix: TT
activity: incident_management
initial: new
states:
  new: {}
  done: {final: true}
"""


def _load(tmp_path, body):
    path = tmp_path / "t.yaml"
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return load_workflow(path, MATRIX)


def test_notify_points_and_waiting_states_are_validated_data(tmp_path):
    wf = _load(tmp_path, BASE.replace("  new: {}", "  new: {waits_for: reporter}") + (
        "transitions:\n  - {trigger: go, source: new, dest: done, allowed: [R], "
        "notify: [reporter, I]}\n  - {trigger: end, source: new, dest: done, allowed: [R], "
        "notify: true}\n"))
    assert [t.notify for t in wf.transitions] == [("reporter", "I"), ("I",)]
    assert wf.states["new"].waits_for == "reporter"
    with pytest.raises(ConfigError, match="notify 'boss' is not one of"):
        _load(tmp_path, BASE + "transitions:\n  - {trigger: go, source: new, dest: done, "
                               "allowed: [R], notify: [boss]}\n")
    with pytest.raises(ConfigError, match="waits_for must be one of: reporter"):
        _load(tmp_path, BASE.replace("  new: {}", "  new: {waits_for: moon}") + (
            "transitions:\n  - {trigger: go, source: new, dest: done, allowed: [R]}\n"))
    with pytest.raises(ConfigError, match="unknown gate 'sometimes'"):
        _load(tmp_path, BASE + "transitions:\n  - {trigger: go, source: new, dest: done, "
                               "allowed: [R], gate: sometimes}\n")


def test_the_shipped_workflows_declare_these_points():
    incident_wf = FLOWS["incident"]
    assert incident_wf.states["waiting_customer"].waits_for == "reporter"
    assert incident_wf.spec_for("in_progress", "wait_for_customer").notify == ("reporter",)
    assert incident_wf.spec_for("in_progress", "acknowledge").gate == "unacknowledged"
    for kind in ("change", "request"):
        gates = {t.trigger: t.gate for t in FLOWS[kind].transitions}
        assert gates["answer_consultation"] == "open_consultation"
        assert gates["consult"] == "consultable"
