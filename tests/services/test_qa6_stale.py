"""QA round 6, the rules in the services: a bulk assignment of a ticket changed since the queue
was shown, a system or escalation form drawn before another admin's save, names that differ only
in (non-ASCII) case, invisible characters in titles, pager hook addresses with credentials, and
the access log's days. On both backends."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from itilflow.domain.errors import Conflict, DomainError, StaleTicket, ValidationError
from itilflow.models import Organisation, System, Ticket
from itilflow.services import access_log, changes, directory, paging, requests, tickets
from tests.conftest import WORK_TIME

NOW = WORK_TIME
INVISIBLE = ["\u200b\u200b", "abc\u202eevil", "\ufeffMap tiles", "Map\u200etiles"]


def _admin(session):
    return directory.load_actor(session, directory.user_by_email(session, "admin@sit.test"))


def _incident(session, rules, world, email="rep@gst.test", **fields):
    user, ctx = world.actor(session, email)
    data = {"system": "kort", "environment": "production", "title": "Map tiles time out",
            "impact": 3, "urgency": 3, **fields}
    return tickets.submit_incident(session, rules, user, ctx, data, now=NOW)


# --- M1: bulk assignment of a ticket changed since the queue was shown -----------------------

def test_assign_many_refuses_a_ticket_changed_since_the_queue_was_shown(session, rules, world):
    stale, fresh = _incident(session, rules, world), _incident(session, rules, world)
    shown = {tickets.number_of(rules, t): t.version for t in (stale, fresh)}
    # a colleague assigns the first ticket to themselves meanwhile
    colleague, colleague_ctx = world.actor(session, "agent2@sit.test")
    tickets.fire_transition(session, rules, colleague, colleague_ctx, stale.id, "assign",
                            {"assignee": colleague.id}, now=NOW)
    me, ctx = world.actor(session, "agent@sit.test")
    ok, refused = tickets.assign_many(session, rules, me, ctx, list(shown), me.id, now=NOW,
                                      versions=shown)
    assert ok == [tickets.number_of(rules, fresh)]
    [(number, error)] = refused
    assert number == tickets.number_of(rules, stale)
    assert isinstance(error, StaleTicket) and error.status == 409
    assert error.message == tickets.CHANGED_SINCE_SHOWN
    session.expire_all()
    assert session.get(Ticket, stale.id).assignee_id == colleague.id  # not overwritten
    assert session.get(Ticket, fresh.id).assignee_id == me.id


# --- M2: the system and escalation forms --------------------------------------------------

def _system(session, key="arkiv") -> System:
    return session.scalar(select(System).where(System.key == key))


def test_a_system_save_from_a_form_drawn_before_another_save_is_refused(session, world):
    admin = _admin(session)
    arkiv = _system(session)
    drawn = directory.system_fingerprint(arkiv)
    # admin B ticks vagtordning and the supplier
    directory.update_system(session, arkiv, {"vagtordning": True, "suppliers": ["Supplier A/S"]},
                            actor=admin, expected=drawn)
    session.commit()
    # admin A's form, drawn before, changes only the name but posts every field
    with pytest.raises(Conflict) as refused:
        directory.update_system(session, _system(session), {
            "name": "Matrikelarkiv", "environments": ["production"], "vagtordning": False,
            "options": {}, "suppliers": []}, actor=admin, expected=drawn)
    assert refused.value.status == 409 and refused.value.message == directory.SYSTEM_CHANGED
    session.rollback()
    arkiv = _system(session)
    assert arkiv.name == "Matrikelarkivet" and arkiv.vagtordning
    assert [o.name for o in arkiv.suppliers] == ["Supplier A/S"]
    # drawn again, the same change saves
    directory.update_system(session, arkiv, {"name": "Matrikelarkiv"}, actor=admin,
                            expected=directory.system_fingerprint(arkiv))
    assert _system(session).name == "Matrikelarkiv" and _system(session).vagtordning


def test_an_escalation_save_from_a_form_drawn_before_another_save_is_refused(session, world):
    admin = _admin(session)
    for name in ("l1", "l2"):
        paging.create_hook(session, admin, {"name": name, "url": f"http://127.0.0.1:9/{name}",
                                            "format": "generic"}, now=NOW)
    drawn = paging.escalation_fingerprint(paging.levels_of(session, _system(session, "kort").id,
                                                           "provider"))
    paging.set_escalation(session, admin, "kort", {"party": "provider", "levels": [
        {"hook": "l1", "delay_seconds": 60}]}, expected=drawn)
    session.commit()
    with pytest.raises(Conflict) as refused:
        paging.set_escalation(session, admin, "kort", {"party": "provider", "levels": [
            {"hook": "l2", "delay_seconds": 0}]}, expected=drawn)
    assert refused.value.message == paging.ESCALATION_CHANGED
    session.rollback()
    kort = _system(session, "kort")
    assert [lv.hook.name for lv in paging.levels_of(session, kort.id, "provider")] == ["l1"]
    # the customer's levels are another form: their own fingerprint still holds
    paging.set_escalation(session, admin, "kort", {"party": "customer", "levels": [
        {"hook": "l2", "delay_seconds": 0}]}, expected=drawn)


# --- M4, L1, L4: names ----------------------------------------------------------------------

@pytest.mark.parametrize("twin", ["Ærø Kommune 🙂", "ærø kommune 🙂", "ÆRØ  KOMMUNE 🙂"])
def test_organisation_names_differing_only_in_non_ascii_case_are_one(session, world, twin):
    directory.create_organisation(session, name="Ærø Kommune 🙂", kind="customer", now=NOW)
    with pytest.raises(Conflict) as refused:
        directory.create_organisation(session, name=twin, kind="customer", now=NOW)
    assert refused.value.errors == {"name": ["Already exists."]}
    assert "'Ærø Kommune 🙂'" in refused.value.message


def test_organisation_names_are_one_line_with_single_spaces(session, world):
    org = directory.create_organisation(session, name="  Region\tNord \n Jylland  ",
                                        kind="customer", now=NOW)
    assert org.name == "Region Nord Jylland"
    assert directory.organisation_by_name(session, "Region Nord Jylland") is org


def test_two_systems_may_not_share_a_name(session, world):
    admin = _admin(session)
    with pytest.raises(ValidationError) as refused:
        directory.update_system(session, _system(session, "kort"), {"name": "MATRIKELARKIVET"},
                                actor=admin)
    assert refused.value.status == 422
    assert refused.value.errors == {"name": ["Another system has this name."]}
    session.rollback()
    with pytest.raises(ValidationError):
        directory.create_system(session, key="ny", name="matrikelarkivet ", customer="GST",
                                environments=["production"], now=NOW, actor=admin)
    session.rollback()
    # its own name in another case is no clash
    directory.update_system(session, _system(session), {"name": "MATRIKELARKIVET"}, actor=admin)
    assert _system(session).name == "MATRIKELARKIVET"


# --- M5: invisible characters in titles ----------------------------------------------------

@pytest.mark.parametrize("title", INVISIBLE)
def test_titles_with_invisible_characters_are_refused_for_every_kind(session, rules, world,
                                                                      title):
    def problem():
        user, ctx = world.actor(session, "agent@sit.test")
        return tickets.submit_problem(session, rules, user, ctx, {
            "system": "kort", "layer": "operating_system", "title": title}, now=NOW)

    def change():
        user, ctx = world.actor(session, "agent@sit.test")
        return changes.submit_change(session, rules, user, ctx, {
            "system": "kort", "environment": "production", "layer": "operating_system",
            "change_type": "normal", "title": title, "planned_start": "2026-12-01T10:00:00+00:00",
            "planned_end": "2026-12-01T12:00:00+00:00"}, now=NOW)

    def request():
        user, ctx = world.actor(session, "rep@gst.test")
        return requests.submit_request(session, rules, user, ctx, {
            "system": "kort", "environment": "production", "layer": "operating_system",
            "activity": "restore", "title": title}, now=NOW)

    for submit in (lambda: _incident(session, rules, world, title=title), problem, change,
                   request):
        with pytest.raises(ValidationError) as refused:
            submit()
        assert refused.value.errors.get("title") == ["Invisible characters are not allowed."]
        session.rollback()
    assert session.scalar(select(Ticket.id)) is None


def test_a_plain_title_with_letters_of_any_script_is_kept(session, rules, world):
    assert _incident(session, rules, world, title="Ærø: kort-tjenesten svarer ikke 🙂").title \
        == "Ærø: kort-tjenesten svarer ikke 🙂"


# --- L5: pager hooks --------------------------------------------------------------------------

def _hook(session, **data):
    return paging.create_hook(session, _admin(session), {"format": "generic", **data}, now=NOW)


@pytest.mark.parametrize("url", ["https://user:pw@pager.example/x", "https://user@pager.example/x",
                                 "http://:secret@10.0.0.5:8080/page"])
def test_a_hook_address_with_credentials_is_refused(session, world, url):
    with pytest.raises(ValidationError) as refused:
        _hook(session, name="p", url=url)
    assert refused.value.errors["url"] == [
        "No user name or password in the address: put secrets in the hook's signing secret or "
        "routing key."]


def test_a_hook_address_may_have_an_at_sign_after_the_host(session, world):
    hook, _secret = _hook(session, name="p", url="https://pager.example/x?to=vagt@sit.dk")
    assert hook.url.endswith("vagt@sit.dk")


def test_a_too_long_hook_address_is_told_its_length(session, world):
    with pytest.raises(ValidationError) as refused:
        _hook(session, name="p", url="https://pager.example/" + "x" * 5000)
    assert refused.value.errors["url"] == [f"At most {paging.URL_MAX} characters."]


def test_a_hook_name_with_invisible_characters_is_refused(session, world):
    with pytest.raises(ValidationError) as refused:
        _hook(session, name="kort\u200b-l1", url="http://127.0.0.1:9/a")
    assert refused.value.errors["name"] == ["Invisible characters are not allowed."]


def test_hook_names_are_unique_whatever_their_case(session, world):
    _hook(session, name="kort-l1", url="http://127.0.0.1:9/a")
    with pytest.raises(Conflict) as refused:
        _hook(session, name="KORT-L1", url="http://127.0.0.1:9/b")
    assert refused.value.message == "A pager hook named 'kort-l1' exists."


# --- M6: the access log page's days ------------------------------------------------------------

def test_the_pages_days_are_whole_local_days_and_the_apis_stay_instants():
    zone = ZoneInfo("Europe/Copenhagen")
    page = access_log.parse_filters({"since": "2026-12-02", "until": "2026-12-02"}, days_in=zone)
    assert page.since == datetime(2026, 12, 1, 23, 0, tzinfo=UTC)
    assert page.until == datetime(2026, 12, 2, 23, 0, tzinfo=UTC)  # 2 Dec is included
    assert access_log.export_query(page) == {"since": "2026-12-01T23:00:00+00:00",
                                             "until": "2026-12-02T23:00:00+00:00"}
    # the API, as documented: a date without an offset is its midnight UTC; until is before
    api = access_log.parse_filters({"since": "2026-12-02", "until": "2026-12-02"})
    assert api.since == api.until == datetime(2026, 12, 2, tzinfo=UTC)
    # a date-time on the page is an instant as before; a bad date is still named
    assert access_log.parse_filters({"until": "2026-12-02T10:00:00"}, days_in=zone).until == \
        datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
    with pytest.raises(DomainError):
        access_log.parse_filters({"until": "2026-13-02"}, days_in=zone)


def test_nothing_of_the_organisation_is_made_on_a_refusal(session, world):
    with pytest.raises(ValidationError):
        directory.create_organisation(session, name="Ærø\u200b", kind="customer", now=NOW)
    assert session.scalar(select(Organisation.id).where(Organisation.name.like("Ærø%"))) is None
