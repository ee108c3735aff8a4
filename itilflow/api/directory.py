"""Organisations, users, named systems and the caller's API tokens."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import select

from itilflow.api import schemas as s
from itilflow.api.auth import authenticate_first, current_actor
from itilflow.api.errors import API_PREFIX, error_docs
from itilflow.models import ApiToken, Organisation, System, User
from itilflow.runtime import db, utcnow
from itilflow.services import api_tokens, directory

blp = Blueprint("directory", __name__, url_prefix=API_PREFIX,
                description="Organisations, users, named systems and API tokens")
authenticate_first(blp)

errors = error_docs(blp)


def org_view(org: Organisation) -> dict[str, Any]:
    return {"id": org.id, "name": org.name, "kind": org.kind, "created_at": org.created_at}


def user_view(user: User) -> dict[str, Any]:
    return {"id": user.id, "email": user.email, "name": user.name,
            "organisation": user.organisation.name, "role": user.role, "active": user.active,
            "created_at": user.created_at}


def system_view(system: System) -> dict[str, Any]:
    options = system.options or {}
    return {"key": system.key, "name": system.name, "customer": system.customer.name,
            "environments": list(system.environments),
            "vagtordning": system.vagtordning,
            "options": {"load_balancer": bool(options.get("load_balancer", False)),
                        "dedicated_physical": bool(options.get("dedicated_physical", False))},
            "suppliers": sorted(o.name for o in system.suppliers)}


def token_view(row: ApiToken) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "prefix": row.prefix, "created_at": row.created_at,
            "last_used_at": row.last_used_at, "revoked_at": row.revoked_at}


@blp.route("/organisations")
class Organisations(MethodView):
    @blp.arguments(s.NoQuery, location="query", as_kwargs=True, unknown=ma.RAISE)
    @blp.response(200, s.OrganisationOut(many=True))
    @errors(401, 403)
    def get(self):
        """All organisations (admin)"""
        _, actor = current_actor()
        directory.require_admin(actor)
        return [org_view(o) for o in db().scalars(select(Organisation).order_by(Organisation.name))]

    @blp.arguments(s.OrganisationIn)
    @blp.response(201, s.OrganisationOut)
    @errors(400, 401, 403, 409, 413)
    def post(self, data):
        """Create an organisation (admin)"""
        _, actor = current_actor()
        return org_view(directory.create_organisation(db(), name=data["name"], kind=data["kind"],
                                                      now=utcnow(), actor=actor))


@blp.route("/users")
class Users(MethodView):
    @blp.arguments(s.NoQuery, location="query", as_kwargs=True, unknown=ma.RAISE)
    @blp.response(200, s.UserOut(many=True))
    @errors(401, 403)
    def get(self):
        """All users, by email (admin)"""
        _, actor = current_actor()
        directory.require_admin(actor)
        return [user_view(u) for u in db().scalars(select(User).order_by(User.email))]

    @blp.arguments(s.UserIn)
    @blp.response(201, s.UserOut)
    @errors(400, 401, 403, 409, 413)
    def post(self, data):
        """Create a user (admin); the role must fit the organisation's kind"""
        _, actor = current_actor()
        return user_view(directory.create_user(
            db(), email=data["email"], name=data.get("name"), organisation=data["organisation"],
            role=data["role"], password=data["password"], now=utcnow(), actor=actor))


@blp.route("/users/<email>")
class UserOne(MethodView):
    @blp.arguments(s.UserPatch)
    @blp.response(200, s.UserOut)
    @errors(400, 401, 403, 404, 413)
    def patch(self, data, email):
        """Change a user (admin): name, role, password, or active (false ends their sessions
        and revokes their tokens); an admin cannot lock themselves out"""
        _, actor = current_actor()
        return user_view(directory.update_user(db(), email, data, now=utcnow(), actor=actor))


@blp.route("/systems")
class Systems(MethodView):
    @blp.arguments(s.NoQuery, location="query", as_kwargs=True, unknown=ma.RAISE)
    @blp.response(200, s.SystemOut(many=True))
    @errors(401)
    def get(self):
        """List the named systems the caller may see

        A customer's own, a supplier's attached ones, all for SIT."""
        _, actor = current_actor()
        return [system_view(x) for x in directory.visible_systems(db(), actor)]

    @blp.arguments(s.SystemIn)
    @blp.response(201, s.SystemOut)
    @errors(400, 401, 403, 409, 413)
    def post(self, data):
        """Create a named system (admin)"""
        _, actor = current_actor()
        return system_view(directory.create_system(db(), now=utcnow(), actor=actor, **data))


@blp.route("/systems/<key>")
class SystemOne(MethodView):
    @blp.arguments(s.NoQuery, location="query", as_kwargs=True, unknown=ma.RAISE)
    @blp.response(200, s.SystemOut)
    @errors(401, 404)
    def get(self, key):
        """One named system, if the caller may see it"""
        _, actor = current_actor()
        return system_view(directory.system_for(db(), actor, key))

    @blp.arguments(s.SystemPatch)
    @blp.response(200, s.SystemOut)
    @errors(400, 401, 403, 404, 413)
    def patch(self, data, key):
        """Change a named system (admin): name, environments, vagtordning, options, suppliers"""
        _, actor = current_actor()
        system = directory.system_for(db(), actor, key)
        return system_view(directory.update_system(db(), system, data, actor=actor))


@blp.route("/tokens")
class Tokens(MethodView):
    @blp.arguments(s.NoQuery, location="query", as_kwargs=True, unknown=ma.RAISE)
    @blp.response(200, s.TokenOut(many=True))
    @errors(401)
    def get(self):
        """The caller's own API tokens (never the secrets)"""
        user, _ = current_actor()
        return [token_view(t) for t in api_tokens.tokens_of(db(), user)]

    @blp.arguments(s.TokenIn)
    @blp.response(201, s.NewTokenOut)
    @errors(400, 401, 403, 413)
    def post(self, data):
        """Create an API token for the caller

        The secret is in this answer only (stored hashed); the token acts with the caller's
        role and organisation."""
        user, _ = current_actor()
        session = db()
        secret = directory.create_token(session, user, now=utcnow(), name=data.get("name") or "api")
        row = api_tokens.tokens_of(session, user)[-1]
        return {**token_view(row), "token": secret}


@blp.route("/tokens/<int:token_id>")
class TokenOne(MethodView):
    @blp.response(204)
    @errors(401, 403, 404)
    def delete(self, token_id):
        """Revoke one of the caller's tokens; it stops working at once"""
        user, _ = current_actor()
        api_tokens.revoke_own_token(db(), user, token_id, now=utcnow())
