"""Organisations, users, API tokens and named systems."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import unicodedata
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from itilflow.domain.access import Actor
from itilflow.domain.errors import Conflict, NotFound, NotPermitted, ValidationError
from itilflow.domain.parties import ROLE_ORG_KIND, OrgKind, Role
from itilflow.models import ApiToken, Organisation, System, User
from itilflow.services import locks
from itilflow.services.fields import clean_text, parse_id

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
KEY_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
TOKEN_PREFIX = "itf_"
#: ``--customer all`` and the all-customers report's ``*``: no organisation may be named so
RESERVED_ORG_NAMES = frozenset({"all", "*"})
MIN_PASSWORD = 10
MAX_PASSWORD = 1024
#: a hash that takes as long to check as a real one, for unknown users (no timing oracle)
_DUMMY_HASH = generate_password_hash("not-a-real-password")


def load_actor(session: Session, user: User) -> Actor:
    """The actor for a user; a supplier's attached systems are looked up."""
    system_ids: frozenset[int] = frozenset()
    if user.role == Role.SUPPLIER_AGENT.value:
        system_ids = frozenset(session.scalars(
            select(System.id).join(System.suppliers).where(Organisation.id == user.organisation_id)
        ))
    return Actor(user_id=user.id, role=Role(user.role), organisation_id=user.organisation_id,
                 system_ids=system_ids)


def require_admin(actor: Actor | None) -> None:
    if actor is not None and actor.role is not Role.ADMIN:
        raise NotPermitted("Only an admin may do this.")


def refuse_invisible(value: str | None, name: str) -> str | None:
    """Emails and names of people and organisations are shown to others: an invisible format
    character (Unicode category Cf: U+200B, U+200E, U+202E, U+FEFF ...) would make an account
    or an organisation look like another one. 422 naming the field."""
    if value is not None and any(unicodedata.category(c) == "Cf" for c in value):
        raise ValidationError(f"{name} contains invisible characters.",
                              {name: ["Invisible characters are not allowed."]})
    return value


def fold_name(name: str) -> str:
    """A name as compared for "the same name": compatibility forms, case (non-ASCII too:
    "ÆRØ" is "ærø") and runs of whitespace folded. Compared in Python, not with SQL ``lower``,
    which folds only ASCII on SQLite."""
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())


def same_name(session: Session, column: Any, name: str, *, lock_key: str,
              exclude: Any = None) -> str | None:
    """The existing name in ``column`` that is ``name`` but for case and spacing (None: free),
    ``exclude``: a clause leaving out the row being renamed. ``lock_key``: checks of the same
    names take turns until the transaction ends, so two differently cased twins created at
    once cannot both pass. The tables named so (organisations, systems, pager hooks) hold tens
    of rows: they are read whole."""
    locks.key_lock(session, f"names:{lock_key}")
    wanted = fold_name(name)
    query = select(column)
    if exclude is not None:
        query = query.where(exclude)
    return next((n for n in session.scalars(query) if fold_name(n) == wanted), None)


def single_line_name(value: Any, name: str, *, max_length: int = 200) -> str:
    """A name shown on one line (an organisation's): stripped, each run of whitespace (a tab,
    a newline, two spaces) one space, and no invisible characters."""
    text = refuse_invisible(clean_text(value, name, max_length=max_length), name)
    return " ".join(text.split())


def create_organisation(session: Session, *, name: Any, kind: Any, now: datetime,
                        actor: Actor | None = None) -> Organisation:
    require_admin(actor)
    name = single_line_name(name, "name")
    if name.lower() in RESERVED_ORG_NAMES:
        raise ValidationError(f"{name!r} is reserved.", {"name": [
            "Reserved: 'all' and '*' mean every customer in reports."]})
    if kind not in {k.value for k in OrgKind}:
        raise ValidationError("Unknown organisation kind.",
                              {"kind": ["Must be one of: customer, provider, supplier."]})
    # "geodatastyrelsen" is Geodatastyrelsen: two of them would split one customer's tickets
    existing = same_name(session, Organisation.name, name, lock_key="organisations")
    if existing is not None:
        raise Conflict(f"An organisation named {existing!r} exists already.",
                       {"name": ["Already exists."]})
    org = Organisation(name=name, kind=kind, created_at=now)
    session.add(org)
    session.flush()
    return org


def organisation_by_name(session: Session, name: Any) -> Organisation:
    """The organisation of that name, as typed or but for case and spacing (names are unique
    so: ``same_name``), as ``user create --org sit`` finds SIT; an exact match first."""
    org = session.scalar(select(Organisation).where(Organisation.name == name)) \
        if isinstance(name, str) and "\x00" not in name else None
    if org is None and isinstance(name, str) and "\x00" not in name:
        wanted = fold_name(name)
        folded = [o for o in session.scalars(select(Organisation)) if fold_name(o.name) == wanted]
        org = folded[0] if len(folded) == 1 else None
    if org is None:
        raise NotFound(f"No organisation named {name!r}.")
    return org


def create_user(session: Session, *, email: Any, name: Any, organisation: Any, role: Any,
                password: Any, now: datetime, actor: Actor | None = None) -> User:
    require_admin(actor)
    email = refuse_invisible(clean_text(email, "email", max_length=254), "email").lower()
    if not EMAIL_RE.match(email):
        raise ValidationError("Not a valid email address.", {"email": ["Not a valid email address."]})
    name = refuse_invisible(clean_text(name, "name", max_length=200, required=False), "name") \
        or email.split("@")[0]
    if role not in {r.value for r in Role}:
        raise ValidationError("Unknown role.",
                              {"role": [f"Must be one of: {', '.join(r.value for r in Role)}."]})
    check_password(password)
    try:
        org = organisation_by_name(session, organisation)
    except NotFound:
        raise ValidationError("Unknown organisation.", {"organisation": ["No such organisation."]}) from None
    _check_role(role, org)
    if session.scalar(select(User.id).where(User.email == email)):
        raise Conflict("A user with this email exists already.", {"email": ["Already exists."]})
    user = User(email=email, name=name, organisation=org, role=role,
                password_hash=generate_password_hash(password),
                credential_stamp=secrets.token_hex(8), active=True, created_at=now)
    session.add(user)
    session.flush()
    return user


def _check_role(role: Any, org: Organisation) -> None:
    """A known role that fits the organisation's kind (a customer_agent in a customer, ...)."""
    if role not in {r.value for r in Role}:
        raise ValidationError("Unknown role.",
                              {"role": [f"Must be one of: {', '.join(r.value for r in Role)}."]})
    if ROLE_ORG_KIND[Role(role)].value != org.kind:
        raise ValidationError(
            f"A {role} belongs to a {ROLE_ORG_KIND[Role(role)].value} organisation; "
            f"{org.name} is a {org.kind}.", {"role": ["Does not fit the organisation's kind."]})


USER_CHANGES = frozenset({"name", "role", "active", "password"})


def update_user(session: Session, email: Any, changes: dict[str, Any], *, now: datetime,
                actor: Actor | None = None) -> User:
    """Change a user's name, role (fitting its organisation's kind), password, or whether it
    may sign in (admin). Deactivating ends the user's sessions and revokes its API tokens at
    once; an admin cannot deactivate themselves or give up their own admin role (no lock-out)."""
    require_admin(actor)
    user = user_by_email(session, email) if isinstance(email, str) and len(email) <= 254 else None
    if user is None:
        raise NotFound("No such user.")
    if not isinstance(changes, dict):
        raise ValidationError("Changes must be an object.", {"_schema": ["A JSON object."]})
    errors: dict[str, list[str]] = {k: ["Unknown field."] for k in set(changes) - USER_CHANGES}
    name = role = password = None
    if "name" in changes:
        try:
            name = refuse_invisible(clean_text(changes["name"], "name", max_length=200), "name")
        except ValidationError as exc:
            errors.update(exc.errors)
    if "role" in changes:
        role = changes["role"]
        try:
            _check_role(role, user.organisation)
        except ValidationError as exc:
            errors.update(exc.errors)
    active = changes.get("active", user.active)
    if not isinstance(active, bool):
        errors["active"] = ["true or false."]
    if "password" in changes:
        password = changes["password"]
        try:
            check_password(password)
        except ValidationError as exc:
            errors.update(exc.errors)
    if actor is not None and user.id == actor.user_id and (
            active is False or (role is not None and role != Role.ADMIN.value)):
        errors["active" if active is False else "role"] = [
            "You cannot lock yourself out: another admin must do this."]
    if actor is not None and user.id == actor.user_id and "password" in changes:
        # the account page asks for the current password; a stolen session or token must not
        # be enough to take the account over
        errors["password"] = ["Change your own password on your account page."]
    if errors:
        raise ValidationError("The user has invalid changes.", errors)
    if name is not None:
        user.name = name
    if role is not None:
        user.role = role
    if password is not None:
        set_password(session, user, password, now=now)
    if active is False and user.active:
        user.credential_stamp = secrets.token_hex(8)  # every session of the user ends
        revoke_tokens(session, user, now=now)
    user.active = active
    session.flush()
    return user


def check_password(password: Any) -> None:
    """The one password rule, wherever a password is set: 10 to 1024 characters (hashing a
    megabyte of password is a denial of service, not a stronger password)."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise ValidationError("The password is too short.",
                              {"password": [f"At least {MIN_PASSWORD} characters."]})
    if len(password) > MAX_PASSWORD:
        raise ValidationError("The password is too long.",
                              {"password": [f"At most {MAX_PASSWORD} characters."]})


def set_password(session: Session, user: User, password: Any, *, now: datetime) -> None:
    """A new password also gets a new credential stamp, so every old session ends, and revokes
    the user's API tokens: whoever stole the old password may have made one. Every way of
    setting a password (the account page, an admin's reset in the UI or the API) comes here."""
    check_password(password)
    user.password_hash = generate_password_hash(password)
    user.credential_stamp = secrets.token_hex(8)
    revoke_tokens(session, user, now=now)
    session.flush()


def revoke_tokens(session: Session, user: User, *, now: datetime) -> None:
    """Revoke every live API token of the user (deactivation, a new password)."""
    for token in session.scalars(select(ApiToken).where(ApiToken.user_id == user.id,
                                                        ApiToken.revoked_at.is_(None))):
        token.revoked_at = now


def authenticate(session: Session, email: Any, password: Any) -> User | None:
    """The user for these credentials, or None; unknown users take as long as wrong passwords."""
    if not isinstance(email, str) or not isinstance(password, str):
        return None
    if "\x00" in email or "\x00" in password:  # PostgreSQL refuses NUL in text
        check_password_hash(_DUMMY_HASH, password.replace("\x00", ""))
        return None
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None or not user.active:
        check_password_hash(_DUMMY_HASH, password)
        return None
    return user if check_password_hash(user.password_hash, password) else None


def user_by_email(session: Session, email: Any) -> User:
    email_text = str(email).strip().lower()
    user = session.scalar(select(User).where(User.email == email_text)) \
        if "\x00" not in email_text else None
    if user is None:
        raise NotFound(f"No user with email {email!r}.")
    return user


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, user: User, *, now: datetime, name: str = "cli") -> str:
    """A new API token for the user: returned once, stored only as its hash. Not for a
    deactivated account: activating it again would bring the token to life (activation brings
    no tokens back)."""
    if not user.active:
        raise ValidationError(f"{user.email} is deactivated: no tokens for it.",
                              {"user": ["The account is deactivated."]})
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, name=name[:100] or "token",
                         token_hash=_hash_token(token), prefix=token[:12], created_at=now))
    session.flush()
    return token


def token_in_use(session: Session, token: str, *, now: datetime) -> ApiToken | None:
    """The live token row for a Bearer token (unknown, revoked or of an inactive user: None);
    marks it used, coarsely, so a busy token does not write on every call."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200 or "\x00" in token:
        return None
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _hash_token(token)))
    if row is None or row.revoked_at is not None or not row.user.active:
        return None
    if row.last_used_at is None or (now - row.last_used_at).total_seconds() > 60:
        row.last_used_at = now
    return row


def revoke_token(session: Session, token_id: Any, *, user: User, now: datetime) -> None:
    """Revoke a token of ``user`` (an admin: anyone's); an id that is no token (a number past
    int32 included, which never reaches the database) is NotFound."""
    token_id = parse_id(token_id)
    row = session.get(ApiToken, token_id) if token_id is not None else None
    if row is None or (row.user_id != user.id and user.role != Role.ADMIN.value):
        raise NotFound("No such token.")
    row.revoked_at = row.revoked_at or now


# --- named systems ------------------------------------------------------------------------

MAX_ENVIRONMENTS = 20


def _environments(value: Any) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(e, str) for e in value):
        raise ValidationError("Environments must be a non-empty list of names.",
                              {"environments": ["A non-empty list of names such as production."]})
    if len(value) > MAX_ENVIRONMENTS:
        raise ValidationError("Too many environments.",
                              {"environments": [f"At most {MAX_ENVIRONMENTS}."]})
    envs = [clean_text(e, "environments", max_length=40).lower() for e in value]
    if len(set(envs)) != len(envs):
        raise ValidationError("An environment is listed twice.", {"environments": ["Duplicates."]})
    return envs


def _options(value: Any) -> dict[str, bool]:
    value = value or {}
    if not isinstance(value, dict) or set(value) - {"load_balancer", "dedicated_physical"} or \
            not all(isinstance(v, bool) for v in value.values()):
        raise ValidationError("Unknown options.",
                              {"options": ["Only load_balancer and dedicated_physical, true or false."]})
    return {"load_balancer": bool(value.get("load_balancer", False)),
            "dedicated_physical": bool(value.get("dedicated_physical", False))}


def _suppliers(session: Session, names: Any) -> list[Organisation]:
    names = names or []
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ValidationError("Suppliers must be a list of organisation names.",
                              {"suppliers": ["A list of supplier organisation names."]})
    orgs = []
    for n in names:
        org = session.scalar(select(Organisation).where(Organisation.name == n))
        if org is None or org.kind != OrgKind.SUPPLIER.value:
            raise ValidationError(f"{n!r} is not a supplier.", {"suppliers": [f"{n!r} is not a supplier."]})
        orgs.append(org)
    return orgs


def _system_name(session: Session, value: Any, *, system: System | None = None) -> str:
    """A system's name: one line, no invisible characters, and no other system's name but for
    case and spacing (two "Matrikelarkivet" in a picker cannot be told apart). 422 on ``name``."""
    name = single_line_name(value, "name")
    taken = same_name(session, System.name, name, lock_key="systems",
                      exclude=System.id != system.id if system is not None else None)
    if taken is not None:
        raise ValidationError(f"A system named {taken!r} exists already.",
                              {"name": ["Another system has this name."]})
    return name


def create_system(session: Session, *, key: Any, name: Any, customer: Any, environments: Any,
                  vagtordning: Any = False, options: Any = None, suppliers: Any = None,
                  now: datetime, actor: Actor | None = None) -> System:
    require_admin(actor)
    if not isinstance(key, str) or not KEY_RE.match(key):
        raise ValidationError("Not a valid system key.",
                              {"key": ["Lower-case letters, digits, - and _, at most 64."]})
    name = _system_name(session, name)
    try:
        org = organisation_by_name(session, customer)
    except NotFound:
        org = None
    if org is None or org.kind != OrgKind.CUSTOMER.value:
        raise ValidationError("Unknown customer.", {"customer": ["No such customer organisation."]})
    if not isinstance(vagtordning, bool):
        raise ValidationError("vagtordning must be true or false.", {"vagtordning": ["Not a boolean."]})
    if session.scalar(select(System.id).where(System.key == key)):
        raise Conflict(f"A system with key {key!r} exists already.", {"key": ["Already exists."]})
    system = System(key=key, name=name, customer=org, environments=_environments(environments),
                    vagtordning=vagtordning, options=_options(options),
                    suppliers=_suppliers(session, suppliers), created_at=now)
    session.add(system)
    session.flush()
    return system


def system_fingerprint(system: System) -> str:
    """A short digest of what the system's edit form changes (name, environments, vagtordning,
    options, suppliers), as it is now: the form carries the one it was drawn with, and
    ``update_system`` refuses the save when the system has changed since."""
    options = system.options or {}
    state = {"name": system.name, "environments": list(system.environments),
             "vagtordning": bool(system.vagtordning),
             "options": {k: bool(options.get(k, False))
                         for k in ("load_balancer", "dedicated_physical")},
             "suppliers": sorted(o.name for o in system.suppliers)}
    return hashlib.sha256(json.dumps(state, sort_keys=True).encode()).hexdigest()[:20]


#: what a save of a form drawn before another admin's save is told (409)
SYSTEM_CHANGED = ("Another admin saved this system after you opened the form. The form now "
                  "shows the saved values: make your change again.")


def update_system(session: Session, system: System, changes: dict[str, Any], *,
                  actor: Actor | None = None, expected: str | None = None) -> System:
    """Change a system (admin). ``expected``: the ``system_fingerprint`` the editing form was
    drawn with; when the system has changed since (another admin saved), nothing is changed
    and the answer is 409 (``Conflict``), never a silent undo of the other save. Checked under
    the system's row lock, so two saves from forms drawn alike cannot both pass."""
    require_admin(actor)
    locks.sqlite_write_lock(session)
    session.scalar(select(System.id).where(System.id == system.id).with_for_update())
    session.refresh(system)  # as saved by whoever held the lock before
    session.expire(system, ["suppliers"])
    if expected is not None and expected != system_fingerprint(system):
        raise Conflict(SYSTEM_CHANGED)
    if "name" in changes:
        system.name = _system_name(session, changes["name"], system=system)
    if "environments" in changes:
        system.environments = _environments(changes["environments"])
    if "vagtordning" in changes:
        if not isinstance(changes["vagtordning"], bool):
            raise ValidationError("vagtordning must be true or false.", {"vagtordning": ["Not a boolean."]})
        system.vagtordning = changes["vagtordning"]
    if "options" in changes:
        system.options = _options(changes["options"])
    if "suppliers" in changes:
        system.suppliers = _suppliers(session, changes["suppliers"])
    session.flush()
    return system


def visible_systems(session: Session, actor: Actor) -> Iterable[System]:
    query = select(System).order_by(System.key)
    if actor.role is Role.SUPPLIER_AGENT:
        query = query.where(System.id.in_(actor.system_ids or [-1]))
    elif not actor.is_provider_staff and actor.role is not Role.ADMIN:
        query = query.where(System.customer_id == actor.organisation_id)
    return session.scalars(query)


def system_for(session: Session, actor: Actor, key: Any) -> System:
    """A system the actor may see, by key; others are NotFound."""
    system = session.scalar(select(System).where(System.key == key)) \
        if isinstance(key, str) and "\x00" not in key else None
    if system is None:
        raise NotFound(f"No system {key!r}.")
    if actor.role is Role.SUPPLIER_AGENT:
        visible = system.id in actor.system_ids
    else:
        visible = actor.is_provider_staff or actor.role is Role.ADMIN or \
            system.customer_id == actor.organisation_id
    if not visible:
        raise NotFound(f"No system {key!r}.")
    return system
