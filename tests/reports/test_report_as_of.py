"""A closed month's report holds "as of" the end of the month: what happened to its tickets
afterwards (a new priority or layer, a hand-over, a response, an acknowledgement, a resolution,
a reopening, a page acknowledged) does not move its figures. Data set: conftest.py (March 2027)
plus U1 and U2; the changes go through the workflow as an agent's would, on 2 April."""

from __future__ import annotations

from datetime import UTC, datetime

from itilflow.models.paging import Escalation
from itilflow.services import directory, reports
from itilflow.services import tickets as ticket_service
from tests.reports.conftest import NOW, local
from tests.web.conftest import sign_in

AFTER = datetime(2027, 4, 2, 8, 0, tzinfo=UTC)  # a working day after March


def _report(rt, email="boss@gst.test", customer="GST", *, now=NOW):
    s = rt.session_factory()
    try:
        user = directory.user_by_email(s, email)
        return reports.monthly_report(s, rt.rules, directory.load_actor(s, user),
                                      customer=customer, month="2027-03", now=now)
    finally:
        s.close()


def _fire(rt, email, number, trigger, data, at):
    s = rt.session_factory()
    user = directory.user_by_email(s, email)
    ticket_service.fire_transition(s, rt.rules, user, directory.load_actor(s, user), number,
                                   trigger, data, now=at)
    s.commit()
    s.close()


def _after(minute: int) -> datetime:
    return AFTER.replace(minute=minute)


def _with_u1_and_u2(rt, march):
    """U1 (P5, no layer: SIT's) is logged on 30 March and not answered in March; U2 (P5, kort,
    infrastructure) is logged on 22 March and resolved through the workflow the same day."""
    s = rt.session_factory()
    march.s = s
    u1 = march.ticket("U1", system="kort", created=local(2027, 3, 30, 10), impact=3, urgency=3)
    u2 = march.ticket("U2", system="kort", created=local(2027, 3, 22, 9), impact=3, urgency=3,
                      layer="infrastructure")
    s.commit()
    s.close()
    _fire(rt, "agent@sit.test", u2.id, "start_work", {}, local(2027, 3, 22, 10))
    _fire(rt, "agent@sit.test", u2.id, "resolve", {"resolution": "Cable"}, local(2027, 3, 22, 11))
    return u1.id, u2.id


def _change_them_in_april(rt, march, u1, u2):
    n2 = march.numbers["N2"]
    # N2 (P4, application: the customer's), never answered in March: P1 now, acknowledged
    _fire(rt, "agent@gst.test", n2, "reprioritise",
          {"impact": 1, "urgency": 1, "comment": "Worse than we thought"}, _after(1))
    _fire(rt, "agent@gst.test", n2, "acknowledge", {}, _after(2))
    _fire(rt, "agent@gst.test", n2, "start_work", {}, _after(3))
    # U1: classified as application (the customer's: a hand-over), then infrastructure (SIT's
    # again), answered and resolved
    _fire(rt, "agent@sit.test", u1, "reclassify", {"layer": "application"}, _after(4))
    _fire(rt, "agent@gst.test", u1, "reclassify", {"layer": "infrastructure"}, _after(5))
    _fire(rt, "agent@sit.test", u1, "start_work", {}, _after(6))
    _fire(rt, "agent@sit.test", u1, "resolve", {"resolution": "Restarted"}, _after(7))
    # U2, resolved on 22 March, reopened
    _fire(rt, "agent@sit.test", u2, "reopen", {"comment": "It came back"}, _after(8))
    # a page run for N2 in March, acknowledged only in April
    s = rt.session_factory()
    s.add(Escalation(ticket_id=n2, party="customer", token=0, levels=[],
                     started_at=local(2027, 3, 31, 22), acknowledged_at=_after(9)))
    s.commit()
    s.close()


def _figures(report):
    return {k: v for k, v in report.items() if k != "generated_at"}


def test_a_closed_month_does_not_change_when_its_tickets_do(rt, march):
    u1, u2 = _with_u1_and_u2(rt, march)
    before = _report(rt)
    _change_them_in_april(rt, march, u1, u2)
    after = _report(rt)
    assert after["period"]["as_of"] == local(2027, 4, 1, 0).isoformat()
    inc = after["incidents"]
    # test_monthly_report's figures plus U1 and U2 (both P5, provider's)
    assert inc["total"] == 12
    assert inc["by_priority"] == {"P1": 2, "P2": 2, "P3": 3, "P4": 3, "P5": 2}
    assert inc["by_layer"] == {"application": 1, "middleware": 2, "operating_system": 1,
                               "infrastructure": 5, "unknown": 3}
    assert inc["by_responsible_party"] == {"customer": 3, "provider": 9}
    # answered in March: the 8 of test_monthly_report and U2; neither N2 nor U1
    assert inc["time_to_acknowledge"]["wall"]["count"] == 9
    # resolved by the end of March: the 7 of test_monthly_report and U2 (reopened since)
    assert inc["time_to_resolve"]["wall"]["count"] == 8
    assert inc["sla"]["P4"]["response_breached"] == 1  # N2, as a P4
    assert inc["sla"]["P1"]["total"] == 2
    assert inc["sla"]["P5"] == {"total": 2, "response_met": 1, "response_breached": 0,
                                "resolution_met": 1, "resolution_breached": 0, "open": 1,
                                "response_compliance_percent": 100.0,
                                "resolution_compliance_percent": 100.0}
    assert after["paging"]["acknowledged"] == 2  # K4 and K5; N2's run only in April
    # and nothing else moved either
    assert _figures(after) == _figures(before)


def test_the_current_month_follows_its_tickets(rt, march):
    """The month that has not ended is as of now: a change shows at once."""
    s = rt.session_factory()
    march.s = s
    u3 = march.ticket("U3", system="kort", created=_after(0).replace(hour=7), impact=3,
                      urgency=2, layer="application", party="customer").id
    s.commit()
    s.close()
    _fire(rt, "agent@gst.test", u3, "reprioritise",
          {"impact": 1, "urgency": 1, "comment": "Worse"}, _after(1))
    _fire(rt, "agent@gst.test", u3, "acknowledge", {}, _after(2))
    s = rt.session_factory()
    user = directory.user_by_email(s, "boss@gst.test")
    report = reports.monthly_report(s, rt.rules, directory.load_actor(s, user), customer="GST",
                                    month="2027-04", now=_after(30))
    s.close()
    assert report["period"]["as_of"] == _after(30).isoformat()
    inc = report["incidents"]
    assert inc["by_priority"] == {"P1": 1, "P2": 0, "P3": 0, "P4": 0, "P5": 0}
    assert inc["time_to_acknowledge"]["wall"] == {"count": 1, "mean_seconds": 3720.0,
                                                  "median_seconds": 3720.0}
    # March, asked at the same moment, is as of its end
    assert _report(rt, now=_after(30))["incidents"]["total"] == 10


def test_an_outage_reopened_after_the_month_ended_when_it_was_resolved(rt, march):
    """R2 (arkiv, an outage 24 Mar 15:00 - 25 Mar 10:00), resolved through the workflow in
    March and reopened in April: March's availability keeps its end (arkiv 98.4375 %)."""
    s = rt.session_factory()
    march.s = s
    r4 = march.ticket("R4", system="arkiv", created=local(2027, 3, 23, 10), impact=2,
                      urgency=3, layer="middleware", party="customer", outage=True)
    s.commit()
    s.close()
    _fire(rt, "agent@gst.test", r4.id, "start_work", {}, local(2027, 3, 23, 10, 30))
    _fire(rt, "agent@gst.test", r4.id, "resolve", {"resolution": "Disk"}, local(2027, 3, 23, 11))
    before = {r["system"]: r for r in _report(rt)["availability"]}
    assert before["arkiv"]["downtime_seconds"] == 9_000 + 3_600  # and R4 10:00-11:00
    _fire(rt, "agent@gst.test", r4.id, "reopen", {"comment": "Again"}, _after(1))
    after = {r["system"]: r for r in _report(rt)["availability"]}
    assert after["arkiv"] == before["arkiv"]


# --- the report page: the reader's numbers, one format per column, phones --------------------

def _page(app, rt, locale: str) -> str:
    from itilflow.web.reports import render_report_html

    report = _report(rt)
    with app.test_request_context("/", headers={"Accept-Language": locale}):
        return render_report_html(report, standalone=True)


def _row(html: str, head: str) -> str:
    start = html.index(head)
    return html[start:html.index("</tr>", start)]


def test_danish_percentages_have_a_decimal_comma(app, rt, march):
    html = _page(app, rt, "da")
    # arkiv 98.4375 %, kort (K5 uncorrected) 99.1252 %; P1's compliance 100 %
    assert "98,44 %" in html and "99,13 %" in html and "100,0 %" in html
    assert "98.44 %" not in html and "99.13" not in html
    assert "98.44 %" in _page(app, rt, "en")


def test_a_month_not_begun_is_said_in_danish(app, world):
    client = app.test_client()
    sign_in(client, "boss@gst.test")
    page = client.get("/reports/monthly?month=2999-12", headers={"Accept-Language": "da"})
    assert page.status_code == 422
    assert "Den måned er ikke begyndt endnu." in page.get_data(as_text=True)


def test_one_duration_format_per_column_and_the_tile_says_its_clock(app, rt, march):
    html = _page(app, rt, "en")
    # the window of kort (around the clock, 743 h) and of arkiv (working time, 160 h) alike
    assert ">743 h 00 min<" in _row(html, "Kortforsyningen (kort)")
    assert ">160 h 00 min<" in _row(html, "Matrikelarkivet (arkiv)")
    # median time to acknowledge 1,500 s beside a mean of 4,050 s: both in hours and minutes
    acknowledge = _row(html, ">Time to acknowledge<")
    assert ">1 h 08 min<" in acknowledge and ">0 h 25 min<" in acknowledge
    # the tile shows the wall-clock median (7,200 s) and says so
    assert "<b>2 h 00 min</b>median time to resolve (wall clock)" in html


def test_on_a_phone_the_report_tables_are_cards_availability_first(app, rt, march):
    html = _page(app, rt, "en")
    kort = _row(html, "Kortforsyningen (kort)")
    assert kort.index('data-label="Availability"') < kort.index('data-label="Service window"')
    assert html.count('<table class="cards">') == 4  # and the known errors
    style = html[html.index("@media (max-width: 640px)"):]
    assert ".report table.cards td::before { content: attr(data-label)" in style
