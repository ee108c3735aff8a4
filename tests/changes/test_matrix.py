"""The whole matrix, generated from config/raci.yaml (not written out by hand): for every
activity and layer, through the services on real databases,

- R: the responsible party's queue gets the work and only its staff may do it (footnote 7: on
  request SIT takes over the middleware restore, in consultation with the customer);
- A: only managers of the accountable party may fire an A trigger (close, reject);
- C: the gated step waits for each consulted party's recorded answer, which only that party
  may give (not its supplier);
- I: the informed parties get notify rows in the outbox; footnote 5 only on deviations;
- a party with no letter in the cell has no action on the ticket at all.

A request ticket carries the cell's activity, so the generic request workflow exercises every
row of the seed's table."""

from __future__ import annotations

import pytest

from itilflow.domain.errors import InvalidTransition
from itilflow.domain.parties import Layer, Party
from itilflow.domain.raci import load_matrix
from itilflow.models import System
from itilflow.services import tickets
from itilflow.settings import PROJECT_ROOT
from tests.changes.common import NOW, available, fire, notices
from tests.domain.test_raci import SEED

MATRIX = load_matrix(PROJECT_ROOT / "config" / "raci.yaml")
ACTIVITIES = list(MATRIX.activities)
AGENT = {Party.CUSTOMER: "agent@gst.test", Party.PROVIDER: "agent@sit.test"}
MANAGER = {Party.CUSTOMER: "boss@gst.test", Party.PROVIDER: "boss@sit.test"}
OTHER = {Party.CUSTOMER: Party.PROVIDER, Party.PROVIDER: Party.CUSTOMER}


def test_every_row_of_the_seed_is_generated():
    assert {row[0] for row in SEED} == set(ACTIVITIES)
    assert {a.group for a in MATRIX.activities.values()} == {
        "general", "information_security", "itil_processes", "development"}
    assert len(ACTIVITIES) * len(Layer) == len({(row[0], row[1]) for row in SEED}) == 100


def new_ticket(session, rules, world, activity, layer, *, on_request=False):
    user, ctx = world.actor(session, "rep@gst.test")
    system = session.query(System).filter_by(key="kort").one()
    return tickets._new_ticket(
        session, rules, kind="request", actor=user, actor_ctx=ctx, system=system,
        environment="production", layer=layer, title=f"{activity} on {layer.value}",
        description="", impact=3, urgency=3, now=NOW, activity=activity, on_request=on_request)


def parties_of(found, event):
    return sorted({party for party, ev, _ in found if ev == event})


def check_cell(session, rules, world, activity, layer, *, on_request=False):
    cell = rules.matrix.cell(activity, layer)
    ticket = new_ticket(session, rules, world, activity, layer, on_request=on_request)
    doer, accountable = cell.responsible(on_request=on_request), cell.accountable
    where = (activity, layer.value, on_request)

    # R: the doer's queue, and only the doer's staff work it
    assert ticket.responsible_party == doer.value, where
    assert ticket.accountable_party == accountable.value, where
    assert "start_work" in available(session, rules, world, AGENT[doer], ticket), where
    assert "start_work" not in available(session, rules, world, AGENT[OTHER[doer]], ticket), where
    if doer is Party.CUSTOMER:  # the customer's supplier works for it on its systems
        assert "start_work" in available(session, rules, world, "sup@supplier.test", ticket)
    # a party with no letter (or only I) has no action at all
    for party in Party:
        if not (cell.role(party).letters - {"I"}) and party is not doer:
            for email in (AGENT[party], MANAGER[party]):
                assert available(session, rules, world, email, ticket) == [], (where, email)

    # I at creation: the informed parties, except footnote 5 (only on deviations)
    quiet = {p.value for p in cell.informed if cell.role(p).only_on_deviations}
    told = sorted(p.value for p in cell.informed if p.value not in quiet)
    assert parties_of(notices(session, ticket), "created") == told, where

    # C: the step waits for each consulted party other than the doer
    fire(session, rules, world, AGENT[doer], ticket, "start_work")
    asked = [p for p in cell.consulted if p is not doer]
    if asked:
        assert "fulfil" not in available(session, rules, world, AGENT[doer], ticket), where
        with pytest.raises(InvalidTransition):
            fire(session, rules, world, AGENT[doer], ticket, "fulfil", resolution="Done")
        fire(session, rules, world, AGENT[doer], ticket, "consult", question="May we?")
        assert parties_of(notices(session, ticket), "consultation") == sorted(
            p.value for p in asked), where
        for party in Party:
            can_answer = "answer_consultation" in available(session, rules, world, AGENT[party],
                                                           ticket)
            assert can_answer == (party in asked), (where, party)
        # the customer's supplier works for it but never gives the customer's answer
        assert "answer_consultation" not in available(session, rules, world,
                                                      "sup@supplier.test", ticket), where
        for party in asked:
            fire(session, rules, world, AGENT[party], ticket, "answer_consultation",
                 answer="Yes.")
    else:
        with pytest.raises(InvalidTransition):
            fire(session, rules, world, AGENT[doer], ticket, "consult", question="Anyone?")
    assert "fulfil" in available(session, rules, world, AGENT[doer], ticket), where
    fire(session, rules, world, AGENT[doer], ticket, "fulfil", resolution="Done.")
    # the I parties and the reporter's side (rep@gst.test: the customer), whose confirm it waits for
    assert parties_of(notices(session, ticket), "fulfil") == sorted({*told, "customer"}), where

    # A: only the accountable party's managers close (agents and the other party cannot)
    assert "close" in available(session, rules, world, MANAGER[accountable], ticket), where
    assert "close" not in available(session, rules, world, AGENT[accountable], ticket), where
    assert "close" not in available(session, rules, world, MANAGER[OTHER[accountable]],
                                    ticket), where
    # a deviation (reopened) reaches every informed party, footnote 5 included
    fire(session, rules, world, MANAGER[accountable], ticket, "reopen", comment="Not right.")
    assert parties_of(notices(session, ticket), "reopen") == sorted(
        p.value for p in cell.informed), where
    assert all(dev for _, ev, dev in notices(session, ticket) if ev == "reopen")
    assert "reject" in available(session, rules, world, MANAGER[accountable], ticket), where
    assert "reject" not in available(session, rules, world, MANAGER[OTHER[accountable]],
                                     ticket), where
    return ticket


GROUPS = list(dict.fromkeys(a.group for a in MATRIX.activities.values()))


@pytest.mark.parametrize("group", GROUPS)
def test_every_cell_of_the_group(session, rules, world, group):
    """One world per group of rows (building it dominates the cost); every cell of each row."""
    done = []
    for activity in (k for k, a in MATRIX.activities.items() if a.group == group):
        for layer in Layer:
            check_cell(session, rules, world, activity, layer)
            cell = rules.matrix.cell(activity, layer)
            if cell.responsible(on_request=True) is not cell.responsible():
                # footnote 7: on request the conditional R does the work
                ticket = check_cell(session, rules, world, activity, layer, on_request=True)
                assert ticket.responsible_party == "provider"
            done.append((activity, layer))
    assert len(done) == 4 * sum(1 for a in MATRIX.activities.values() if a.group == group)
