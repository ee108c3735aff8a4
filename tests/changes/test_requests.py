"""Service requests on real databases: restore (footnote 7), backup checks, administrative and
user access, each routed by its own matrix cell."""

from __future__ import annotations

import pytest

from itilflow.domain.errors import InvalidTransition, NotPermitted, ValidationError
from itilflow.services import changes, requests, tickets
from tests.changes.common import NOW, available, fire, notices


def submit(session, rules, world, email="rep@gst.test", **fields):
    user, ctx = world.actor(session, email)
    data = {"system": "kort", "environment": "production", "layer": "middleware",
            "activity": "restore", "title": "Restore the orders database to 02:00",
            "description": "Bad batch job.", **fields}
    return requests.submit_request(session, rules, user, ctx, data, now=NOW)


def test_customer_restores_its_middleware_itself(session, rules, world):
    req = submit(session, rules, world)
    assert tickets.number_of(rules, req) == f"REQ-{req.id:06d}"
    assert (req.kind, req.activity, req.responsible_party, req.accountable_party) == (
        "request", "restore", "customer", "customer")
    assert available(session, rules, world, "agent@sit.test", req) == []
    fire(session, rules, world, "agent@gst.test", req, "start_work")
    # the customer is R and C: it is not asked to consult itself
    fire(session, rules, world, "agent@gst.test", req, "fulfil", resolution="Restored.")
    assert req.state == "fulfilled"
    fire(session, rules, world, "rep@gst.test", req, "confirm")
    assert req.state == "closed"


def test_customer_asks_sit_to_restore_in_consultation(session, rules, world):
    """Footnote 7: on request SIT is R, and the customer is consulted before the restore."""
    req = submit(session, rules, world, on_request=True)
    assert (req.responsible_party, req.accountable_party, req.on_request) == (
        "provider", "customer", True)
    assert "start_work" not in available(session, rules, world, "agent@gst.test", req)
    fire(session, rules, world, "agent@sit.test", req, "start_work")
    assert "fulfil" not in available(session, rules, world, "agent@sit.test", req)
    with pytest.raises(InvalidTransition, match="customer"):
        fire(session, rules, world, "agent@sit.test", req, "fulfil", resolution="Done")
    fire(session, rules, world, "agent@sit.test", req, "consult",
         question="Restore to 02:00 or 01:30?")
    sit = world.actor(session, "agent@sit.test")[1]
    waiting = changes.waiting_on(session, rules, sit, req.id)
    assert waiting["waiting_on_parties"] == ["customer"]
    assert [(g["trigger"], g["waiting_on"]) for g in waiting["gates"]] == [
        ("fulfil", ["customer"])]
    with pytest.raises(NotPermitted):
        fire(session, rules, world, "agent@sit.test", req, "answer_consultation", answer="02:00")
    fire(session, rules, world, "agent@gst.test", req, "answer_consultation",
         answer="02:00, please.")
    asked_and_answered = [(e.trigger, e.data["stage"]) for e in tickets.events_of(session, req)
                          if e.trigger in ("consult", "answer_consultation")]
    assert asked_and_answered == [("consult", "restore"), ("answer_consultation", "restore")]
    fire(session, rules, world, "agent@sit.test", req, "fulfil", resolution="Restored to 02:00.")
    # the customer is A: its manager closes, SIT's cannot
    with pytest.raises(NotPermitted):
        fire(session, rules, world, "boss@sit.test", req, "close")
    fire(session, rules, world, "boss@gst.test", req, "close")
    assert req.state == "closed"
    asked = [n for n in notices(session, req) if n[1] == "consultation"]
    assert asked == [("customer", "consultation", False)]


def test_access_and_backup_requests_go_to_their_cells(session, rules, world):
    admin = submit(session, rules, world, activity="administrative_access",
                   layer="operating_system", title="Root access for the DBA on kort-db-1")
    assert admin.responsible_party == "provider"
    assert ("customer", "created", False) in notices(session, admin)
    fire(session, rules, world, "boss@sit.test", admin, "reject", comment="Not for customers.")
    assert admin.state == "rejected"

    user_access = submit(session, rules, world, activity="user_access", layer="application",
                         environment="test", title="Access for a new case officer")
    assert user_access.responsible_party == "customer" and user_access.environment == "test"

    backup = submit(session, rules, world, activity="backup", layer="middleware",
                    title="Check last night's database backup")
    # SIT takes the middleware backup (R); the customer (A, C) is consulted before it is done
    assert (backup.responsible_party, backup.accountable_party) == ("provider", "customer")
    fire(session, rules, world, "agent@sit.test", backup, "start_work")
    with pytest.raises(InvalidTransition):
        fire(session, rules, world, "agent@sit.test", backup, "fulfil", resolution="OK")


def test_request_input_is_validated(session, rules, world):
    with pytest.raises(ValidationError) as bad:
        submit(session, rules, world, activity="incident_management", layer="cloud", title="")
    assert set(bad.value.errors) >= {"activity", "layer", "title"}
    with pytest.raises(ValidationError) as bad:
        submit(session, rules, world, activity="user_access", on_request=True)
    assert "on_request" in bad.value.errors
    with pytest.raises(ValidationError) as bad:
        submit(session, rules, world, on_request="yes")
    assert "on_request" in bad.value.errors
    with pytest.raises(ValidationError):
        submit(session, rules, world, "rep@erst.test")  # kort is not ERST's
    with pytest.raises(NotPermitted):
        submit(session, rules, world, "admin@sit.test")
