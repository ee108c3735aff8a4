"""Workflow files: they load, they drive the shared machines, and broken ones are refused with
the file, the line and the reason."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from itilflow.domain import access
from itilflow.domain.access import Actor, TicketFacts
from itilflow.domain.errors import ConfigError, InvalidTransition, NotPermitted
from itilflow.domain.parties import Layer, Role
from itilflow.domain.raci import load_matrix
from itilflow.domain.workflow import load_workflow, load_workflows
from itilflow.settings import PROJECT_ROOT

MATRIX = load_matrix(PROJECT_ROOT / "config" / "raci.yaml")
FLOWS = load_workflows(PROJECT_ROOT / "workflows", MATRIX)
GST, SIT = 2, 1


def test_the_three_workflows_load_with_contract_triggers():
    assert set(FLOWS) >= {"incident", "problem", "change"}
    assert {"reclassify", "acknowledge", "resolve", "close", "reopen"} <= set(
        FLOWS["incident"].triggers)


def test_machine_is_shared_and_never_resets_a_ticket():
    wf = FLOWS["incident"]
    assert wf.next_state("in_progress", "resolve") == "resolved"
    assert wf.next_state("new", "acknowledge") == "new"  # internal: stays
    with pytest.raises(InvalidTransition):
        wf.next_state("closed", "resolve")
    assert not hasattr(wf._machine, "to_closed")  # no auto transitions


def test_when_guard_separates_change_types():
    wf = FLOWS["change"]
    assert wf.next_state("new", "pre_approve", {"change_type": "standard"}) == "approved"
    with pytest.raises(InvalidTransition):
        wf.next_state("new", "pre_approve", {"change_type": "normal"})


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


def _write(tmp_path, body: str):
    path = tmp_path / "t.yaml"
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


@pytest.mark.parametrize(("extra", "message"), [
    ("transitions:\n  - {trigger: go, source: new, dest: nowhere, allowed: [R]}\n",
     "unknown dest state 'nowhere'"),
    ("transitions:\n  - {trigger: go, source: gone, dest: done, allowed: [R]}\n",
     "unknown source state 'gone'"),
    ("transitions:\n  - {trigger: go, source: new, dest: done, allowed: []}\n",
     "nobody may fire it"),
    ("transitions:\n  - {trigger: go, source: new, dest: done, allowed: [C]}\n",
     "nobody holds C for activity 'incident_management'"),
    ("transitions:\n  - {trigger: go, source: new, dest: done, allowed: [Q]}\n",
     "'allowed' entry 'Q'"),
    ("transitions:\n  - {trigger: go, source: new, dest: done, allowed: ['role:boss']}\n",
     "unknown role 'boss'"),
    ("transitions:\n  - {trigger: go, source: new, dest: new, allowed: [R]}\n",
     "state 'done' cannot be reached"),
])
def test_broken_workflow_is_refused(tmp_path, extra, message):
    path = _write(tmp_path, BASE + extra)
    with pytest.raises(ConfigError) as excinfo:
        load_workflow(path, MATRIX)
    assert message in str(excinfo.value)
    assert str(excinfo.value).startswith(str(path))


def test_dead_end_names_the_line(tmp_path):
    body = BASE.replace("  done: {final: true}", "  stuck: {}\n  done: {final: true}") + (
        "transitions:\n  - {trigger: go, source: new, dest: done, allowed: [R]}\n"
        "  - {trigger: jam, source: new, dest: stuck, allowed: [R]}\n")
    path = _write(tmp_path, body)
    with pytest.raises(ConfigError) as excinfo:
        load_workflow(path, MATRIX)
    assert "state 'stuck' is a dead end" in str(excinfo.value)
    assert f"{path}:9:" in str(excinfo.value)


def test_cli_check_refuses_a_broken_directory(tmp_path):
    _write(tmp_path, BASE + "transitions:\n  - {trigger: go, source: new, dest: x, allowed: [R]}\n")
    result = subprocess.run([sys.executable, "-m", "itilflow.cli", "workflows", "check"],
                            capture_output=True, text=True,
                            env={"ITILFLOW_WORKFLOWS_DIR": str(tmp_path), "PATH": "/usr/bin"})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"Error: {tmp_path / 't.yaml'}:11: transition 'go': unknown dest state 'x'"]


def _facts(layer, state="new", **kw):
    return TicketFacts(kind="incident", state=state, activity="incident_management",
                       layer=Layer(layer) if layer else None, customer_id=GST, system_id=10,
                       reporter_id=100, **kw)


SIT_AGENT = Actor(user_id=1, role=Role.SIT_AGENT, organisation_id=SIT)
SIT_BOSS = Actor(user_id=2, role=Role.SIT_MANAGER, organisation_id=SIT)
GST_AGENT = Actor(user_id=3, role=Role.CUSTOMER_AGENT, organisation_id=GST)
GST_REPORTER = Actor(user_id=100, role=Role.REPORTER, organisation_id=GST)
OTHER_AGENT = Actor(user_id=4, role=Role.CUSTOMER_AGENT, organisation_id=99)
SUPPLIER = Actor(user_id=5, role=Role.SUPPLIER_AGENT, organisation_id=7, system_ids=frozenset({10}))


def test_unknown_layer_is_sit_triage():
    wf = FLOWS["incident"]
    assert "reclassify" in access.available_triggers(MATRIX, wf, _facts(None), SIT_AGENT)
    assert access.available_triggers(MATRIX, wf, _facts(None), GST_AGENT) == []


def test_application_incident_is_the_customers_and_its_suppliers():
    wf = FLOWS["incident"]
    assert "resolve" in access.available_triggers(MATRIX, wf, _facts("application"), GST_AGENT)
    assert "resolve" in access.available_triggers(MATRIX, wf, _facts("application"), SUPPLIER)
    assert access.available_triggers(MATRIX, wf, _facts("application"), SIT_AGENT) == []
    with pytest.raises(NotPermitted):
        access.authorise_fire(MATRIX, wf, _facts("application"), SIT_AGENT, "resolve")


def test_only_the_accountable_manager_closes():
    wf = FLOWS["incident"]
    resolved = _facts("operating_system", "resolved")
    assert "close" in access.available_triggers(MATRIX, wf, resolved, SIT_BOSS)
    assert "close" not in access.available_triggers(MATRIX, wf, resolved, SIT_AGENT)
    assert "confirm" in access.available_triggers(MATRIX, wf, resolved, GST_REPORTER)


def test_other_organisation_cannot_see_or_act():
    wf = FLOWS["incident"]
    assert not access.can_see(OTHER_AGENT, _facts("application"))
    assert access.available_triggers(MATRIX, wf, _facts("application"), OTHER_AGENT) == []


def test_consultation_gate_waits_for_the_customer():
    wf = FLOWS["change"]
    base = dict(kind="change", state="approved", activity="change_management",
                layer=Layer.OPERATING_SYSTEM, customer_id=GST, system_id=10, reporter_id=1,
                fields={"change_type": "normal"})
    waiting = TicketFacts(**base)
    with pytest.raises(InvalidTransition, match="waits for the consultation of: customer"):
        access.authorise_fire(MATRIX, wf, waiting, SIT_AGENT, "start_installation_test")
    from itilflow.domain.parties import Party
    answered = TicketFacts(**base, consulted=frozenset({("installation_test", Party.CUSTOMER)}))
    spec = access.authorise_fire(MATRIX, wf, answered, SIT_AGENT, "start_installation_test")
    assert spec.dest == "installation_test"
