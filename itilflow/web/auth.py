"""Login, logout and the user's own account (Flask-Login). The session's id carries the user's
credential stamp, so a password change or a sign-out ends every copy of the old session."""

from __future__ import annotations

from flask import (
    Blueprint,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import UserMixin, current_user, login_required, login_user, logout_user

from itilflow.domain.errors import DomainError, NotPermitted
from itilflow.models import User
from itilflow.runtime import db, utcnow
from itilflow.services import accounts, directory
from itilflow.web.common import safe_next
from itilflow.web.i18n import _

bp = Blueprint("auth", __name__)


class SessionUser(UserMixin):
    def __init__(self, user: User) -> None:
        self.user = user

    def get_id(self) -> str:
        return f"{self.user.id}:{self.user.credential_stamp}"


def load_user(user_id: str) -> SessionUser | None:
    raw_id, _sep, stamp = user_id.partition(":")
    if not raw_id.isdecimal() or len(raw_id) > 18:
        return None
    user = db().get(User, int(raw_id))
    if user is None or not user.active or user.credential_stamp != stamp:
        return None
    return SessionUser(user)


@bp.route("/login", methods=["GET", "POST"])
def login():
    error = None
    email = ""
    if request.method == "POST":
        email = request.form.get("email", "")[:254]
        user = directory.authenticate(db(), email, request.form.get("password", ""))
        if user is not None:
            session.clear()
            login_user(SessionUser(user))
            return redirect(safe_next(request.args.get("next")) or url_for("home"))
        error = _("Unknown email or wrong password.")
    return render_template("login.html", error=error, email=email), 401 if error else 200


@bp.get("/logout")
def logout_page():
    """/logout typed into the address bar: a button that signs out (a GET must not, or any
    page could sign its visitors out with an image)."""
    return render_template("logout.html")


@bp.post("/logout")
def logout():
    if current_user.is_authenticated:
        accounts.end_sessions(db(), current_user.user)
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))


@bp.get("/me")
@login_required
def whoami():
    user = current_user.user
    return jsonify(email=user.email, role=user.role, organisation=user.organisation.name)


@bp.route("/account", methods=["GET", "POST"])
@login_required
def account():
    errors: dict[str, list[str]] = {}
    user = current_user.user
    if request.method == "POST" and request.form.get("form") == "locale":
        try:
            accounts.set_locale(db(), user, request.form.get("locale", ""))
        except DomainError as exc:
            errors = exc.errors
        else:
            g.pop("locale", None)
            flash(_("Saved."), "ok")
            return redirect(url_for("auth.account"))
    elif request.method == "POST" and request.form.get("form") == "password":
        try:
            accounts.change_password(db(), user, current=request.form.get("current", ""),
                                     new=request.form.get("new", ""),
                                     repeat=request.form.get("repeat", ""), now=utcnow())
        except NotPermitted as exc:  # a wrong current password: a failed login, for all it is
            errors = exc.errors
            # the login throttle counts it (web/common.py), the access log records it and alerts
            # as for /login (web/access_capture.py), once the request is rolled back
            g.wrong_current_password = True
        except DomainError as exc:
            errors = exc.errors or {"new": [exc.message]}
        else:
            logout_user()
            session.clear()
            flash(_("Your password is changed. Sign in again with the new one."), "ok")
            return redirect(url_for("auth.login"))
    status = 422 if errors else 200
    return render_template("account.html", errors=errors), status
