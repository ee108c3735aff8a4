"""An admin deactivates a leaver from the admin page: the leaver's session ends at once, the
button is not offered for oneself, and reactivating lets them sign in again."""

from __future__ import annotations

import re

from tests.conftest import PASSWORD
from tests.web.conftest import csrf_of, sign_in


def _row(html: str, email: str) -> str:
    return re.search(rf'<tr data-user="{re.escape(email)}".*?</tr>', html, re.S).group(0)


def test_admin_deactivates_and_reactivates_a_user(app, world, login):
    agent = login("agent@sit.test")
    assert agent.get("/agent").status_code == 200
    admin = login("admin@sit.test")
    page = admin.get("/admin").get_data(as_text=True)
    assert "Deactivate" in _row(page, "agent@sit.test")
    assert "<form" not in _row(page, "admin@sit.test")  # no lock-out of oneself
    done = admin.post("/admin/users/agent@sit.test/access",
                      data={"active": "false", "csrf_token": csrf_of(page)})
    assert done.status_code == 303
    page = admin.get("/admin").get_data(as_text=True)
    assert "is deactivated" in page and "Reactivate" in _row(page, "agent@sit.test")
    assert agent.get("/agent").status_code == 302  # signed out: to the login page
    # without the CSRF token nothing changes
    assert admin.post("/admin/users/agent@sit.test/access",
                      data={"active": "true"}).status_code == 400
    assert "Reactivate" in _row(admin.get("/admin").get_data(as_text=True), "agent@sit.test")
    admin.post("/admin/users/agent@sit.test/access",
               data={"active": "true", "csrf_token": csrf_of(page)})
    assert login("agent@sit.test").get("/agent").status_code == 200


def test_an_admin_cannot_deactivate_themselves_and_others_get_404(app, world, login):
    admin = login("admin@sit.test")
    page = admin.get("/admin").get_data(as_text=True)
    refused = admin.post("/admin/users/admin@sit.test/access",
                         data={"active": "false", "csrf_token": csrf_of(page)},
                         follow_redirects=True)
    assert "You cannot lock yourself out" in refused.get_data(as_text=True)
    assert admin.get("/admin").status_code == 200  # still an admin, still signed in
    boss = login("boss@sit.test")
    token = csrf_of(boss.get("/agent").get_data(as_text=True))
    assert boss.post("/admin/users/agent@sit.test/access",
                     data={"active": "false", "csrf_token": token}).status_code == 404


def test_admin_sets_a_password_for_a_user_who_forgot_theirs(app, world, login):
    agent = login("agent@sit.test")
    admin = login("admin@sit.test")
    page = admin.get("/admin").get_data(as_text=True)
    short = admin.post("/admin/users/agent@sit.test/password",
                       data={"password": "short", "csrf_token": csrf_of(page)},
                       follow_redirects=True)
    assert "At least 10 characters." in short.get_data(as_text=True)
    assert agent.get("/agent").status_code == 200  # nothing changed
    done = admin.post("/admin/users/agent@sit.test/password",
                      data={"password": "a brand new passphrase", "csrf_token": csrf_of(page)},
                      follow_redirects=True)
    assert "has a new password" in done.get_data(as_text=True)
    assert agent.get("/agent").status_code == 302  # the old session ended
    fresh = app.test_client()
    sign_in(fresh, "agent@sit.test", "a brand new passphrase")
    old = app.test_client()
    token = csrf_of(old.get("/login").get_data(as_text=True))
    assert old.post("/login", data={"email": "agent@sit.test", "password": PASSWORD,
                                    "csrf_token": token}).status_code == 401
