"""The report over HTTP (JSON, CSV, the page with charts) and from the command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from itilflow.domain.calendar import BusinessCalendar
from itilflow.domain.errors import ValidationError
from itilflow.domain.report import (
    WorkingTimeIndex,
    availability,
    month_bounds,
    parse_month,
    previous_month,
)
from itilflow.services import directory
from tests.web.conftest import sign_in

#: a month that has begun by the wall clock of any test run
MONTH = "2026-10"


def get(app, tokens, email, **query):
    return app.test_client().get("/api/v1/reports/monthly", query_string=query,
                                 headers={"Authorization": f"Bearer {tokens[email]}"})


def test_api_report_access(app, tokens):
    own = get(app, tokens, "boss@gst.test", customer="GST", month=MONTH)
    assert own.status_code == 200
    body = own.get_json()
    assert (body["customer"], body["month"]) == ("GST", MONTH)
    assert {r["system"] for r in body["availability"]} == {"kort", "arkiv"}
    assert get(app, tokens, "rep@gst.test", month=MONTH).get_json()["customer"] == "GST"
    for email, customer in [("boss@erst.test", "GST"), ("sup@supplier.test", "GST"),
                            ("boss@gst.test", "Nobody")]:
        refused = get(app, tokens, email, customer=customer, month=MONTH)
        assert refused.status_code == 404
        assert refused.get_json()["status"] == 404
    everyone = get(app, tokens, "boss@sit.test", month=MONTH).get_json()
    assert everyone["customer"] is None and len(everyone["availability"]) == 3


@pytest.mark.parametrize("month", ["2026-13", "26-10", "", "2999-01", "9999-12", "1969-12", "x" * 500])
def test_bad_months_are_422(app, tokens, month):
    response = get(app, tokens, "boss@gst.test", customer="GST", month=month)
    assert response.status_code == 422
    assert "month" in response.get_json()["errors"]


def test_a_bad_month_on_the_page_is_a_422_page_not_a_500(app, world):
    client = app.test_client()
    sign_in(client, "boss@gst.test")
    for month in ("9999-12", "2026-13"):
        page = client.get(f"/reports/monthly?month={month}")
        assert page.status_code == 422, month
        assert "month" in page.get_data(as_text=True).lower()


def test_csv_download(app, tokens):
    response = get(app, tokens, "boss@gst.test", customer="GST", month=MONTH, format="csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.get_data(as_text=True).startswith("section,item,measure,value\r\n")
    assert get(app, tokens, "boss@gst.test", month=MONTH, format="pdf").status_code == 422


def test_page_with_charts_and_print_stylesheet(app, world):
    client = app.test_client()
    sign_in(client, "boss@gst.test")
    page = client.get(f"/reports/monthly?month={MONTH}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert html.count("<svg") >= 5 and "@media print" in html
    assert "Monthly standard report · GST" in html
    assert "cdn" not in html.lower() and "https://" not in html
    assert client.get(f"/reports/monthly?month={MONTH}&customer=ERST").status_code == 404
    supplier = app.test_client()
    sign_in(supplier, "sup@supplier.test")
    assert supplier.get(f"/reports/monthly?month={MONTH}").status_code == 404
    sit = app.test_client()
    sign_in(sit, "boss@sit.test")
    assert "all customers" in sit.get(f"/reports/monthly?month={MONTH}").get_data(as_text=True)


def test_report_and_access_log_pages_speak_the_readers_language(app, world):
    danish = app.test_client()
    sign_in(danish, "boss@gst.test")
    headers = {"Accept-Language": "da"}
    html = danish.get(f"/reports/monthly?month={MONTH}", headers=headers).get_data(as_text=True)
    for text in ("Månedlig standardrapport · GST", "Tilgængelighed", "SLA-overholdelse",
                 "Hændelser efter prioritet", "Kald uden for arbejdstid"):
        assert text in html, text
    assert "Monthly standard report" not in html and "Incidents by priority" not in html
    english = app.test_client()
    sign_in(english, "boss@gst.test")
    html = english.get(f"/reports/monthly?month={MONTH}", headers={"Accept-Language": "en"}
                       ).get_data(as_text=True)
    assert "Monthly standard report · GST" in html and "Incidents by priority" in html
    admin = app.test_client()
    sign_in(admin, "admin@sit.test")
    log = admin.get("/admin/access-log?verify=1", headers=headers).get_data(as_text=True)
    assert "Adgangslog" in log and "poster kontrolleret" in log and "kæden er intakt" in log


def test_outage_correction_over_the_api(app, rt, world):
    s = rt.session_factory()
    rep = directory.create_token(s, directory.user_by_email(s, "rep@gst.test"),
                                 now=datetime.now(UTC))
    agent = directory.create_token(s, directory.user_by_email(s, "agent@sit.test"),
                                   now=datetime.now(UTC))
    s.commit()
    s.close()
    client = app.test_client()
    made = client.post("/api/v1/incidents", headers={"Authorization": f"Bearer {rep}"},
                       json={"system": "kort", "environment": "production", "title": "Down",
                             "impact": 1, "urgency": 1, "outage": True}).get_json()
    url = f"/api/v1/tickets/{made['id']}/outage"
    start = datetime(2026, 11, 1, 9, tzinfo=UTC).isoformat()
    body = {"start": start, "end": None, "reason": "Monitoring saw it first"}
    assert client.put(url, json=body, headers={"Authorization": f"Bearer {rep}"}
                      ).status_code == 403
    fixed = client.put(url, json=body, headers={"Authorization": f"Bearer {agent}"})
    assert fixed.status_code == 200, fixed.get_json()
    assert fixed.get_json()["outage_start"] == start
    events = client.get(f"/api/v1/tickets/{made['id']}/events",
                        headers={"Authorization": f"Bearer {agent}"}).get_json()
    items = events["items"] if isinstance(events, dict) else events
    assert items[-1]["kind"] == "outage_corrected"
    bad = client.put(url, json={"start": "soon", "reason": ""},
                     headers={"Authorization": f"Bearer {agent}"})
    assert bad.status_code == 422 and set(bad.get_json()["errors"]) == {"start", "reason"}
    ancient = client.put(url, json={"start": "0001-01-01T00:00:00+00:00", "reason": "typo"},
                         headers={"Authorization": f"Bearer {agent}"})
    assert ancient.status_code == 422 and "start" in ancient.get_json()["errors"]
    # the customer's agent sees the incident (kort is GST's) but SIT works it: not theirs
    s = rt.session_factory()
    gst_agent = directory.create_token(s, directory.user_by_email(s, "agent@gst.test"),
                                       now=datetime.now(UTC))
    s.commit()
    s.close()
    assert client.put(url, json=body, headers={"Authorization": f"Bearer {gst_agent}"}
                      ).status_code == 403
    after = client.get(f"/api/v1/tickets/{made['id']}/events",
                       headers={"Authorization": f"Bearer {agent}"}).get_json()
    after = after["items"] if isinstance(after, dict) else after
    assert [e["kind"] for e in after].count("outage_corrected") == 1   # nothing changed


def test_cli_writes_the_report(tmp_path):
    env = {**os.environ, "ITILFLOW_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
           "ITILFLOW_SECRET_KEY": "x"}

    def run(*args):
        return subprocess.run([sys.executable, "-m", "itilflow.cli", *args], env=env,
                              capture_output=True, text=True, timeout=120)

    assert run("db", "upgrade").returncode == 0
    assert run("org", "create", "GST", "--kind", "customer").returncode == 0
    out = run("report", "monthly", "--customer", "GST", "--month", MONTH, "--format", "json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["customer"] == "GST"
    html = tmp_path / "r.html"
    assert run("report", "monthly", "--customer", "all", "--month", MONTH, "--format", "html",
               "-o", str(html)).returncode == 0
    assert "<svg" in html.read_text()
    missing = run("report", "monthly", "--customer", "Nope", "--month", MONTH)
    assert missing.returncode == 2 and "No customer 'Nope'" in missing.stderr
    assert run("audit", "verify-access").stdout.startswith("0 access log entries verified")


# --- pure figures -----------------------------------------------------------------------

def test_month_bounds_follow_dst():
    start, end = month_bounds(2026, 10, "Europe/Copenhagen")
    assert start == datetime(2026, 9, 30, 22, tzinfo=UTC)  # CEST
    assert end == datetime(2026, 10, 31, 23, tzinfo=UTC)  # CET: October has 745 hours
    assert (end - start).total_seconds() == 745 * 3600
    assert previous_month(datetime(2027, 1, 1, 0, 30, tzinfo=UTC), "Europe/Copenhagen") == (2026, 12)
    with pytest.raises(ValidationError):
        parse_month("2026-1")


def test_availability_of_a_working_time_system_skips_holidays():
    calendar = BusinessCalendar()
    start, end = month_bounds(2026, 12, "Europe/Copenhagen")
    # 24 Dec is not a DK public holiday by default; 25 Dec (Fri) is; down 24 Dec 15:00 to
    # 28 Dec 09:00 counts 1 h on the 24th and 1 h on Monday the 28th
    outage = (datetime(2026, 12, 24, 14, tzinfo=UTC), datetime(2026, 12, 28, 8, tzinfo=UTC))
    figures = availability(calendar, start, end, [outage, outage], around_the_clock=False)
    assert figures.downtime_seconds == 7200
    assert figures.window_seconds == 22 * 8 * 3600  # 23 weekdays minus Christmas Day


def test_index_agrees_with_the_calendar():
    calendar = BusinessCalendar()
    index = WorkingTimeIndex(calendar, datetime(2026, 10, 1, tzinfo=UTC),
                             datetime(2026, 11, 5, tzinfo=UTC))
    a = datetime(2026, 10, 23, 13, 17, tzinfo=UTC)
    for hours in (1, 30, 80, 400, 2000):
        b = datetime.fromtimestamp(a.timestamp() + hours * 3600, UTC)
        assert index.working_seconds_between(a, b) == calendar.working_seconds_between(a, b)
    for seconds in (60, 28800, 86400, 10**7):
        assert index.add_working_time(a, seconds) == calendar.add_working_time(a, seconds)
