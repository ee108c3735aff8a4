"""A hypothesis state machine drives random submissions, transitions and hand-overs by every
role through the API; after every step: no 5xx, each successful transition wrote exactly one
transition event (a hand-over its own extra event), failed ones wrote nothing, every customer
sees exactly its own organisation's tickets, and the responsible party of every ticket is the
matrix's R for its activity and layer."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from sqlalchemy import func, select

from itilflow.models import Organisation, Ticket, TicketEvent

ALL_USERS = ["rep@gst.test", "agent@gst.test", "boss@gst.test", "rep@erst.test",
             "agent@erst.test", "boss@erst.test", "sup@supplier.test", "agent@sit.test",
             "agent2@sit.test", "boss@sit.test", "admin@sit.test"]
SUBMITTERS = [u for u in ALL_USERS if u != "admin@sit.test"]
CUSTOMERS = {"rep@gst.test": "GST", "rep@erst.test": "ERST"}
LAYERS = [None, "application", "middleware", "operating_system", "infrastructure"]
TRIGGERS = ["assign", "start_work", "acknowledge", "reclassify", "wait_for_customer",
            "wait_for_supplier", "resume", "resolve", "confirm", "reject", "reopen", "close",
            "cancel"]


def fields_for(trigger: str, draw) -> dict:
    if trigger == "assign":
        return {"assignee": draw(st.sampled_from(ALL_USERS))}
    if trigger == "reclassify":
        return {"layer": draw(st.sampled_from(LAYERS[1:])), "comment": "Reclassified."}
    if trigger == "resolve":
        return {"resolution": "Fixed."}
    if trigger in ("wait_for_customer", "wait_for_supplier", "reject", "reopen", "cancel"):
        return {"comment": "Because."}
    return {}


def test_random_workflows_keep_the_invariants(backend, request):
    if backend != "sqlite":
        pytest.skip("one backend is enough for the state machine (the API tests cover both)")
    api, rt = request.getfixturevalue("api"), request.getfixturevalue("rt")
    rules = rt.rules

    def count(model_filter) -> int:
        with rt.session_factory() as s:
            return s.scalar(select(func.count()).select_from(TicketEvent).where(*model_filter))

    class Workflows(RuleBasedStateMachine):
        tickets = Bundle("tickets")

        @rule(target=tickets, email=st.sampled_from(SUBMITTERS),
              system=st.sampled_from(["kort", "arkiv", "virk"]), layer=st.sampled_from(LAYERS),
              impact=st.integers(1, 3), urgency=st.integers(1, 3))
        def submit(self, email, system, layer, impact, urgency):
            r = api.post("/incidents", email, {"system": system, "environment": "production",
                                               "title": "Random", "impact": impact,
                                               "urgency": urgency, "layer": layer})
            assert r.status_code in (201, 422), r.json
            return r.json["id"] if r.status_code == 201 else None

        @rule(ticket=tickets, email=st.sampled_from(ALL_USERS), data=st.data(),
              stale=st.booleans())
        def transition(self, ticket, email, data, stale):
            if ticket is None:
                return
            seen = api.get(f"/tickets/{ticket}", email)
            assert seen.status_code in (200, 404)
            available = seen.json["available_transitions"] if seen.status_code == 200 else []
            trigger = data.draw(st.sampled_from(available) if available and data.draw(
                st.booleans()) else st.sampled_from(TRIGGERS))
            body = {"trigger": trigger, **fields_for(trigger, data.draw)}
            if seen.status_code == 200:
                body["version"] = seen.json["version"] - (1 if stale and seen.json["version"] > 1
                                                          else 0)
            transitions = count([TicketEvent.ticket_id == ticket, TicketEvent.kind == "transition"])
            handovers = count([TicketEvent.ticket_id == ticket, TicketEvent.kind == "handover"])
            r = api.post(f"/tickets/{ticket}/transitions", email, body)
            assert r.status_code < 500, r.json
            assert r.status_code in (200, 403, 404, 409, 422), r.json
            if r.status_code == 404:
                assert seen.status_code == 404
            after_t = count([TicketEvent.ticket_id == ticket, TicketEvent.kind == "transition"])
            after_h = count([TicketEvent.ticket_id == ticket, TicketEvent.kind == "handover"])
            if r.status_code == 200:
                assert trigger in available
                assert after_t == transitions + 1
                moved = r.json["responsible_party"] != seen.json["responsible_party"]
                assert after_h == handovers + (1 if moved else 0)
            else:
                assert (after_t, after_h) == (transitions, handovers)

        @invariant()
        def customers_see_only_their_own(self):
            with rt.session_factory() as s:
                for email, org in CUSTOMERS.items():
                    own = s.scalar(select(func.count()).select_from(Ticket).join(
                        Organisation, Ticket.customer_id == Organisation.id).where(
                        Organisation.name == org))
                    listed = api.get("/tickets", email, query_string={"limit": 200}).json["items"]
                    assert len(listed) == own
                    assert {t["system"] for t in listed} <= (
                        {"kort", "arkiv"} if org == "GST" else {"virk"})

        @invariant()
        def responsible_party_follows_the_matrix(self):
            with rt.session_factory() as s:
                for t in s.scalars(select(Ticket)):
                    cell = rules.matrix.cell(t.activity, t.layer)
                    assert t.responsible_party == cell.responsible(on_request=t.on_request).value

    run_state_machine_as_test(Workflows, settings=settings(
        max_examples=12, stateful_step_count=15, deadline=None, database=None,
        suppress_health_check=list(HealthCheck)))
