"""The app through real HTTP-shaped requests (Werkzeug test client), and the architecture."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import PASSWORD


def test_healthz_and_login_page(app):
    client = app.test_client()
    assert client.get("/healthz").json == {"status": "ok", "database": True}
    page = client.get("/login")
    assert page.status_code == 200 and b'name="password"' in page.data


def test_login_with_csrf(app, world):
    client = app.test_client()
    page = client.get("/login").data.decode()
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    refused = client.post("/login", data={"email": "agent@sit.test", "password": PASSWORD})
    assert refused.status_code == 400  # no CSRF token
    wrong = client.post("/login", data={"email": "agent@sit.test", "password": "nope",
                                        "csrf_token": token})
    assert wrong.status_code == 401 and b"Unknown email or wrong password." in wrong.data
    ok = client.post("/login", data={"email": "agent@sit.test", "password": PASSWORD,
                                     "csrf_token": token})
    assert ok.status_code == 302
    assert client.get("/me").json["role"] == "sit_agent"


def test_domain_imports_no_flask_and_no_database():
    code = ("import sys, itilflow.domain.access, itilflow.domain.calendar, itilflow.domain.sla, "
            "itilflow.domain.workflow, itilflow.domain.diagram, itilflow.domain.priority; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('flask', 'sqlalchemy', "
            "'werkzeug')]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_production_password_hash_is_scrypt():
    from itilflow.services import directory

    # hashed at import with the real function (tests swap in a cheaper one per test)
    assert directory._DUMMY_HASH.startswith("scrypt:")
