"""Problem management on real databases: links both ways with history on both tickets, known
errors found from a new incident, resolving the linked incidents, routing by layer."""

from __future__ import annotations

import pytest

from itilflow.domain.errors import Conflict, InvalidTransition, NotFound, NotPermitted
from itilflow.services import problems, tickets
from tests.changes.common import NOW, available, fire


def incident(session, rules, world, title, *, email="rep@gst.test", system="kort",
             layer="operating_system"):
    user, ctx = world.actor(session, email)
    return tickets.submit_incident(session, rules, user, ctx, {
        "system": system, "environment": "production", "layer": layer, "title": title,
        "description": "Seen by users.", "impact": 2, "urgency": 2}, now=NOW)


def problem(session, rules, world, incidents, *, email="agent@sit.test", layer="operating_system",
            title="Disk I/O stalls on kort"):
    user, ctx = world.actor(session, email)
    return tickets.submit_problem(session, rules, user, ctx, {
        "system": "kort", "layer": layer, "title": title, "description": "Recurring.",
        "incidents": [i.id for i in incidents]}, now=NOW)


def linked_events(session, ticket):
    return [(e.kind, e.data) for e in tickets.events_of(session, ticket)
            if e.kind in ("linked", "unlinked")]


def test_problem_links_incidents_both_ways(session, rules, world):
    one = incident(session, rules, world, "Tiles time out")
    two = incident(session, rules, world, "WMS slow at night")
    prb = problem(session, rules, world, [one, two])
    number = tickets.number_of(rules, prb)
    assert [i.id for i in prb.incidents] == [one.id, two.id]
    assert [p.id for p in one.problems] == [prb.id]
    sit = world.actor(session, "agent@sit.test")[1]
    assert [p["number"] for p in problems.problems_of(session, rules, sit, one.id)] == [number]
    assert [i["id"] for i in problems.linked_incidents(session, rules, sit, prb.id)] == [
        one.id, two.id]
    assert linked_events(session, one) == [("linked", {"problem": number})]
    assert [d for _, d in linked_events(session, prb)] == [
        {"incident": tickets.number_of(rules, one)}, {"incident": tickets.number_of(rules, two)}]

    user = world.actor(session, "agent@sit.test")[0]
    three = incident(session, rules, world, "Map tiles time out again")
    problems.link_incident(session, rules, user, sit, prb.id, three.id, now=NOW)
    assert [p.id for p in three.problems] == [prb.id]
    assert linked_events(session, three) == [("linked", {"problem": number})]
    with pytest.raises(Conflict):
        problems.link_incident(session, rules, user, sit, prb.id, three.id, now=NOW)
    problems.unlink_incident(session, rules, user, sit, prb.id, two.id, now=NOW)
    assert [i.id for i in prb.incidents] == [one.id, three.id] and two.problems == []
    assert linked_events(session, two)[-1] == ("unlinked", {"problem": number})
    assert linked_events(session, prb)[-1] == (
        "unlinked", {"incident": tickets.number_of(rules, two)})
    with pytest.raises(Conflict):
        problems.unlink_incident(session, rules, user, sit, prb.id, two.id, now=NOW)
    # another customer's incident is not linkable, nor visible
    other = incident(session, rules, world, "Virk down", email="rep@erst.test", system="virk")
    with pytest.raises(Exception) as refused:
        problems.link_incident(session, rules, user, sit, prb.id, other.id, now=NOW)
    assert getattr(refused.value, "status", None) == 422
    erst = world.actor(session, "agent@erst.test")
    with pytest.raises(NotFound):
        problems.link_incident(session, rules, erst[0], erst[1], prb.id, other.id, now=NOW)
    # a reporter does not link
    rep = world.actor(session, "rep@gst.test")
    with pytest.raises(NotPermitted):
        problems.link_incident(session, rules, rep[0], rep[1], prb.id, two.id, now=NOW)


def test_known_error_workaround_appears_on_a_new_matching_incident(session, rules, world):
    first = incident(session, rules, world, "Tile cache disk full on node 2")
    prb = problem(session, rules, world, [first], title="Tile cache disk fills up")
    fire(session, rules, world, "agent@sit.test", prb, "investigate")
    fire(session, rules, world, "agent@sit.test", prb, "record_known_error",
         root_cause="Log rotation disabled for the tile cache.",
         workaround="Run the cache purge job, then restart the tile service.")
    assert prb.state == "known_error"
    new = incident(session, rules, world, "Tile cache full again")
    sit = world.actor(session, "agent@sit.test")[1]
    found = problems.matching_known_errors(session, rules, sit, new)
    assert [(f["number"], f["workaround"]) for f in found] == [
        (tickets.number_of(rules, prb), "Run the cache purge job, then restart the tile service.")]
    assert set(found[0]["matched_words"]) == {"tile", "cache"}
    assert found[0]["linked"] is False
    # by number too, and the customer sees it on its own incident
    gst = world.actor(session, "rep@gst.test")[1]
    assert problems.matching_known_errors(session, rules, gst, tickets.number_of(rules, new))
    # unrelated words, or another system, find nothing
    assert problems.matching_known_errors(
        session, rules, sit, incident(session, rules, world, "Login page blank")) == []
    assert problems.matching_known_errors(
        session, rules, sit, incident(session, rules, world, "Tile cache full",
                                      system="arkiv")) == []
    erst_incident = incident(session, rules, world, "Tile cache full", email="rep@erst.test",
                             system="virk")
    assert problems.matching_known_errors(session, rules, world.actor(
        session, "rep@erst.test")[1], erst_incident) == []
    # searchable without an incident too
    assert [f["id"] for f in problems.search_known_errors(session, rules, sit, q="cache")] == [
        prb.id]
    assert [f["id"] for f in problems.search_known_errors(session, rules, sit, system="kort")
            ] == [prb.id]
    assert problems.search_known_errors(session, rules, sit, q="printer") == []
    assert problems.search_known_errors(session, rules, world.actor(session, "rep@erst.test")[1],
                                        q="cache") == []
    # the agent links it from the triage view
    user = world.actor(session, "agent@sit.test")[0]
    problems.link_incident(session, rules, user, sit, prb.id, new.id, now=NOW)
    assert problems.matching_known_errors(session, rules, sit, new)[0]["linked"] is True


def test_resolving_a_problem_offers_to_resolve_its_incidents(session, rules, world):
    os_one = incident(session, rules, world, "Kernel panic on node 1")
    os_two = incident(session, rules, world, "Kernel panic on node 2")
    app = incident(session, rules, world, "App error after the panic", layer="application")
    done = incident(session, rules, world, "Kernel panic, old one")
    fire(session, rules, world, "agent@sit.test", done, "resolve", resolution="Rebooted.")
    prb = problem(session, rules, world, [os_one, os_two, app, done])
    user, sit = world.actor(session, "agent@sit.test")
    with pytest.raises(InvalidTransition):
        problems.resolve_linked_incidents(session, rules, user, sit, prb.id, now=NOW)
    fire(session, rules, world, "agent@sit.test", prb, "investigate")
    fire(session, rules, world, "agent@sit.test", prb, "resolve",
         resolution="Kernel updated to 6.1.90.", root_cause="A driver bug.")
    offered = problems.linked_incidents(session, rules, sit, prb.id)
    assert [(i["id"], i["can_resolve"]) for i in offered] == [
        (os_one.id, True), (os_two.id, True), (app.id, False), (done.id, False)]
    results = problems.resolve_linked_incidents(session, rules, user, sit, prb.id, now=NOW)
    assert [(r["id"], r["result"]) for r in results] == [
        (os_one.id, "resolved"), (os_two.id, "resolved"), (app.id, "not_permitted"),
        (done.id, "already_resolved")]
    assert os_one.state == "resolved" and app.state == "new"
    assert os_one.resolution == f"Resolved by {tickets.number_of(rules, prb)}: " \
                                "Kernel updated to 6.1.90."
    assert [e.trigger for e in tickets.events_of(session, os_one)][-1] == "resolve"
    # the customer resolves its own one
    cust_user, cust = world.actor(session, "agent@gst.test")
    again = problems.resolve_linked_incidents(session, rules, cust_user, cust, prb.id, now=NOW,
                                              resolution="Fixed by SIT's kernel update.")
    assert [(r["id"], r["result"]) for r in again if r["id"] == app.id] == [(app.id, "resolved")]


def test_the_layer_decides_the_party_of_a_problem(session, rules, world):
    prb = problem(session, rules, world, [], email="agent@gst.test", layer="application",
                  title="Search returns stale hits")
    assert (prb.responsible_party, prb.accountable_party) == ("customer", "customer")
    assert available(session, rules, world, "agent@sit.test", prb) == []
    fire(session, rules, world, "agent@gst.test", prb, "reclassify", layer="operating_system",
         comment="It is the OS page cache.")
    assert prb.responsible_party == "provider"
    assert [e.kind for e in tickets.events_of(session, prb)][-1] == "handover"
    assert "investigate" in available(session, rules, world, "agent@sit.test", prb)
    assert available(session, rules, world, "agent@gst.test", prb) == []
