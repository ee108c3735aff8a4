"""Login and logout (Flask-Login). The session's id carries the user's credential stamp, so a
password change ends every old session."""

from __future__ import annotations

from flask import Blueprint, jsonify, redirect, render_template, request, url_for
from flask_login import UserMixin, current_user, login_required, login_user, logout_user

from itilflow.models import User
from itilflow.runtime import db
from itilflow.services import directory

bp = Blueprint("auth", __name__)


class SessionUser(UserMixin):
    def __init__(self, user: User) -> None:
        self.user = user

    def get_id(self) -> str:
        return f"{self.user.id}:{self.user.credential_stamp}"


def load_user(user_id: str) -> SessionUser | None:
    raw_id, _, stamp = user_id.partition(":")
    if not raw_id.isdigit():
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
            login_user(SessionUser(user))
            return redirect(url_for("home"))
        error = "Unknown email or wrong password."
    return render_template("login.html", error=error, email=email), 401 if error else 200


@bp.post("/logout")
def logout():
    logout_user()
    return redirect(url_for("auth.login"))


@bp.get("/me")
@login_required
def whoami():
    user = current_user.user
    return jsonify(email=user.email, role=user.role, organisation=user.organisation.name)
