"""Notifications to the I parties of a ticket (and to the A on an SLA breach): a row in the app
for the party's organisation, and an email to its staff when SMTP is configured. Security alerts
(failed logins) go to the admins: a row in the provider's inbox that only admins see, and an
email to them.

The in-app rows are the organisation's shared inbox (``inbox``): its agents, managers and admins
read them, and marking one read marks it for the whole team (``mark_read``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from itilflow.domain.access import PARTY_WORDS, Actor
from itilflow.domain.errors import NotPermitted, ValidationError
from itilflow.domain.parties import MANAGER_ROLES, WORKER_ROLES, Party, Role
from itilflow.models import Organisation, Ticket, User, system_suppliers
from itilflow.models.outbox import OutboxMessage
from itilflow.models.paging import Notification
from itilflow.services.fields import parse_id
from itilflow.services.rules import Rules
from itilflow.services.sql import id_in

#: who has an inbox: the staff of the organisations notifications go to, and the admins
INBOX_ROLES = frozenset({Role.CUSTOMER_AGENT, Role.CUSTOMER_MANAGER, Role.SIT_AGENT,
                         Role.SIT_MANAGER, Role.ADMIN})
#: the unread count stops here (the badge says "99+"): counting a neglected inbox costs nothing
UNREAD_CAP = 99
ADMIN_ALERT = "admins"
#: the reasons (``as``) that concern only the party's approval: its managers are mailed (they
#: approve for it, ``MANAGER_ROLES``), as for an SLA breach; any other reason tells its staff
APPROVAL_REASONS = frozenset({"approvers", "approved"})
#: a change's outcome (``complete``) in words
OUTCOME_WORDS = {"successful": "successful", "failed": "failed", "backed_out": "backed out"}


def _english(text: str, **values: Any) -> str:
    return text % values if values else text


def _humane(name: Any) -> str:
    """``awaiting_approval`` -> ``Awaiting approval``: the label when the rules are not at hand."""
    return str(name or "").replace("_", " ").capitalize()


def message_text(payload: dict[str, Any], rules: Rules | None = None,
                 translate: Callable[..., str] = _english) -> str:
    """The notification in words. ``translate`` is a gettext (the reader's language, at display
    time); ``rules`` turn a trigger, state or stage name into its label."""
    if payload.get("audience") == ADMIN_ALERT:
        return translate("Security alert: %(subject)s in %(minutes)s minutes (last at "
                         "%(last_at)s).", subject=translate(str(payload.get("subject"))),
                         minutes=payload.get("window_minutes"), last_at=payload.get("last_at"))
    label = _Labels(rules, payload, translate)
    values = {"ticket": f"{payload.get('number')} {payload.get('title')!s}",
              "state": label.state(payload.get("state")), "actor": payload.get("actor")}
    event = payload.get("event", "")
    if event == "wait_for_customer":  # the comment is the question: it is the message
        return _asked(payload, values, translate)
    if event == "reply":
        return translate("%(ticket)s: %(actor)s answered your question: \"%(comment)s\" It is "
                         "still %(state)s until you resume work.",
                         comment=payload.get("comment"), **values)
    if event == "customer_answered" and payload.get("comment"):
        return translate("%(ticket)s: %(actor)s answered your question: \"%(comment)s\" It is "
                         "%(state)s again.", comment=payload["comment"], **values)
    if event == "reprioritise" and payload.get("from_priority"):
        return _reprioritised(payload, values, translate)
    if payload.get("answer"):  # a consultation answered: the working party's gate may open
        return translate("%(ticket)s: %(actor)s answered your consultation (%(stage)s): "
                         "\"%(answer)s\" It is %(state)s.", answer=payload["answer"],
                         stage=label.stage(payload.get("stage")), **values)
    if event == "rescheduled":  # the approvers approved the old window: they hear of the new
        return translate("%(ticket)s: %(actor)s moved the planned window to %(start)s - %(end)s; "
                         "it is %(state)s.", start=_local(payload.get("planned_start"), rules),
                         end=_local(payload.get("planned_end"), rules), **values)
    if _asked_to_approve(payload):
        return translate("%(ticket)s: %(actor)s asks your organisation to approve it; it is "
                         "now %(state)s.", **values) + " " + \
            translate("Approve or reject it on the ticket.")
    return " ".join([_what_happened(payload, label, values, translate),
                     *_comment(payload, translate)])


def _asked(payload: dict[str, Any], values: dict[str, Any], translate: Callable[..., str]) -> str:
    """The reporter's side is asked for something: what, and how to answer."""
    asked = translate("%(actor)s is waiting for your answer on %(ticket)s: \"%(comment)s\"",
                      comment=payload["comment"], **values) if payload.get("comment") else \
        translate("%(actor)s is waiting for your answer on %(ticket)s.", **values)
    return f"{asked} {translate('Answer with a comment on the ticket.')}"


def _reprioritised(payload: dict[str, Any], values: dict[str, Any],
                   translate: Callable[..., str]) -> str:
    """A new priority moves the SLA promise: the old and the new priority, and why."""
    if payload["from_priority"] == payload.get("priority"):  # impact and urgency swapped
        changed = translate("%(ticket)s: %(actor)s changed the impact and urgency; the priority "
                            "stays %(priority)s.", priority=payload.get("priority"), **values)
    else:
        changed = translate("%(ticket)s: %(actor)s changed the priority from %(from_priority)s "
                            "to %(priority)s; the SLA targets follow the new priority.",
                            from_priority=payload["from_priority"],
                            priority=payload.get("priority"), **values)
    why = [translate("Why: \"%(comment)s\"", comment=payload["comment"])] \
        if payload.get("comment") else []
    return " ".join([changed, *why])


def _what_happened(payload: dict[str, Any], label: _Labels, values: dict[str, Any],
                   translate: Callable[..., str]) -> str:
    event = payload.get("event", "")
    if event == "consultation":
        return translate("%(ticket)s: %(actor)s asks your organisation (%(stage)s) and needs your "
                         "answer: \"%(question)s\"", stage=label.stage(payload.get("stage")),
                         question=payload.get("question"), **values) + " " + \
            translate("Answer it on the ticket with \"Answer consultation\".")
    if event == "created":
        if payload.get("to_party") and payload["to_party"] == payload.get("party"):
            if payload.get("works_for"):  # the customer's supplier, which works its queue
                return translate("%(ticket)s was raised by %(actor)s for %(customer)s, which "
                                 "works it (you work for it on %(system)s); it is now "
                                 "%(state)s.", **_works_for(payload), **values)
            return translate("%(ticket)s was raised by %(actor)s for your organisation, which "
                             "works it; it is now %(state)s.", **values)
        by = " by %(actor)s" if values["actor"] else ""
        return translate(f"%(ticket)s was raised{by}; it is now %(state)s.", **values)
    if event == "sla_breach":
        if payload.get("target"):
            return translate("%(ticket)s breached its %(target)s target; it is now %(state)s.",
                             target=translate(str(payload["target"])), **values)
        return translate("%(ticket)s breached its SLA; it is now %(state)s.", **values)
    if payload.get("to_party"):
        return _handed_over(payload, label, values, translate)
    if payload.get("outcome") in OUTCOME_WORDS:
        outcome = translate(OUTCOME_WORDS[payload["outcome"]])
        if values["actor"]:
            return translate("%(ticket)s: %(actor)s recorded the outcome: %(outcome)s; it is "
                             "now %(state)s.", outcome=outcome, **values)
        return translate("%(ticket)s: the outcome was recorded: %(outcome)s; it is now "
                         "%(state)s.", outcome=outcome, **values)
    who = "%(actor)s chose " if values["actor"] else ""
    return translate(f"%(ticket)s: {who}\"%(action)s\"; it is now %(state)s.",
                     action=label.trigger(event), **values)


def _handed_over(payload: dict[str, Any], label: _Labels, values: dict[str, Any],
                 translate: Callable[..., str]) -> str:
    """A hand-over: the party that has the ticket now is told it works it; the others, who
    had it and who has it now."""
    action = label.trigger(payload.get("event"))
    if payload["to_party"] == payload.get("party") and payload.get("works_for"):
        return translate("%(ticket)s was handed over to %(customer)s by %(actor)s "
                         "(\"%(action)s\"): you work for it on %(system)s.", action=action,
                         **_works_for(payload), **values)
    if payload["to_party"] == payload.get("party"):
        return translate("%(ticket)s was handed over to your organisation by %(actor)s "
                         "(\"%(action)s\"): it now works it.", action=action, **values)
    return translate("%(ticket)s was handed over from %(from_party)s to %(to_party)s by "
                     "%(actor)s (\"%(action)s\").", action=action,
                     from_party=translate(_party_words(payload.get("from_party"))),
                     to_party=translate(_party_words(payload["to_party"])), **values)


def _local(instant: Any, rules: Rules | None) -> str:
    """An ISO instant of the payload as the calendar's local time, to the minute."""
    try:
        at = datetime.fromisoformat(instant)
    except (TypeError, ValueError):
        return str(instant)
    if rules is not None:
        at = at.astimezone(ZoneInfo(rules.calendar.timezone))
    return at.strftime("%Y-%m-%d %H:%M")


def _asked_to_approve(payload: dict[str, Any]) -> bool:
    """An approver told of a step that is no deviation is asked for its approval (a
    rejection or cancellation, deviations, only tells it the change ended)."""
    return "approvers" in (payload.get("as") or ()) and not payload.get("deviation") \
        and payload.get("event") != "rescheduled"


def _works_for(payload: dict[str, Any]) -> dict[str, str]:
    """A supplier's mail (``Recipient.works_for``): the customer it works for, on which system."""
    customer, system = payload["works_for"]
    return {"customer": str(customer), "system": str(system)}


def _party_words(name: Any) -> str:
    """``provider`` -> ``the provider (SIT)``, as the refusals name the parties."""
    return PARTY_WORDS[Party(name)] if name in set(Party) else str(name)


def _comment(payload: dict[str, Any], translate: Callable[..., str]) -> list[str]:
    """The comment given with the step (why it was rejected, what the new layer is about)."""
    if payload.get("comment"):
        return [translate("Comment: \"%(comment)s\"", comment=payload["comment"])]
    return []


class _Labels:
    """Names in a notification's payload as the labels the reader knows."""

    def __init__(self, rules: Rules | None, payload: dict[str, Any],
                 translate: Callable[..., str]) -> None:
        self.translate = translate
        self.rules = rules
        kind = rules.kind_of_prefix(str(payload.get("number", "")).split("-")[0]) if rules else None
        self.workflow = rules.workflows[kind] if kind else None

    def state(self, name: Any) -> str:
        spec = self.workflow.states.get(name) if self.workflow else None
        return self.translate(spec.label if spec else _humane(name))

    def trigger(self, name: Any) -> str:
        spec = next((t for t in self.workflow.transitions if t.trigger == name), None) \
            if self.workflow else None
        return self.translate(spec.label if spec else _humane(name))

    def stage(self, name: Any) -> str:
        activity = self.rules.matrix.activities.get(name) if self.rules else None
        return self.translate(activity.label if activity else _humane(name))


def rendered(session: Session, notes: list[Notification], rules: Rules,
             translate: Callable[..., str]) -> dict[int, str]:
    """Each notification's text in the reader's language, from the payload it was delivered
    from (one query); a notification whose payload is gone keeps its stored text."""
    payloads = dict(session.execute(
        select(OutboxMessage.message_id, OutboxMessage.payload)
        .where(OutboxMessage.message_id.in_([n.message_id for n in notes]))).all()) \
        if notes else {}
    return {n.id: message_text(payloads[n.message_id], rules, translate)
            if isinstance(payloads.get(n.message_id), dict) else n.message for n in notes}


@dataclass(frozen=True)
class Recipient:
    email: str
    locale: str | None  # the user's own setting; None: the default
    #: the organisation the person belongs to: each organisation gets its own mail (a supplier
    #: told with its customer never sees the customer's addresses, nor they its)
    organisation_id: int | None = None
    #: a supplier's staff told with its customer: (the customer's name, the system's name), so
    #: "your organisation" in the customer's words reads as the customer in the supplier's mail
    works_for: tuple[str, str] | None = None


@dataclass(frozen=True)
class Mail:
    to: tuple[str, ...]
    subject: str
    text: str


def mail_subject(payload: dict[str, Any], rules: Rules | None = None,
                 translate: Callable[..., str] = _english) -> str:
    """``[itilflow] INC-000022 Map tiles time out: waiting for your answer``: the ticket and
    what happened, so the inbox list alone says whether to act."""
    if payload.get("audience") == ADMIN_ALERT:
        return "[itilflow] " + translate("Security alert: %(subject)s",
                                         subject=translate(str(payload.get("subject"))))
    return f"[itilflow] {payload.get('number')} {payload.get('title')!s}: " \
        f"{_what_in_short(payload, rules, translate)}"


def _what_in_short(payload: dict[str, Any], rules: Rules | None,
                   translate: Callable[..., str]) -> str:
    event, party = payload.get("event"), payload.get("party")
    if event == "wait_for_customer":
        return translate("waiting for your answer")
    if event == "consultation":
        return translate("asks for your answer")
    if event in ("reply", "customer_answered") or payload.get("answer"):
        return translate("answered")
    if event == "rescheduled":
        return translate("window moved")
    if _asked_to_approve(payload):
        return translate("asks for your approval")
    if payload.get("outcome") in OUTCOME_WORDS:
        return translate("outcome: %(outcome)s",
                         outcome=translate(OUTCOME_WORDS[payload["outcome"]]))
    if event == "sla_breach":
        return translate("SLA breached")
    if event == "reprioritise" and payload.get("from_priority") == payload.get("priority"):
        return translate("impact and urgency changed, priority %(priority)s",
                         priority=payload.get("priority"))
    if event == "reprioritise" and payload.get("from_priority"):
        return translate("priority %(from_priority)s → %(priority)s",
                         from_priority=payload["from_priority"], priority=payload.get("priority"))
    ours = payload.get("to_party") == party
    if event == "created":
        if ours and payload.get("works_for"):
            return translate("raised for %(customer)s", **_works_for(payload))
        return translate("raised for your organisation") if ours else translate("raised")
    if payload.get("to_party"):
        if ours and payload.get("works_for"):
            return translate("handed over to %(customer)s", **_works_for(payload))
        return translate("handed over to your organisation") if ours \
            else translate("handed over")
    return _Labels(rules, payload, translate).state(payload.get("state"))


def mails(payload: dict[str, Any], recipients: list[Recipient], rules: Rules | None,
          translator: Callable[[str | None], Callable[..., str]]) -> list[Mail]:
    """One mail per language, written in it (``translator``: a locale's gettext; readers whose
    locales read the same, an unset one and English, share a mail) and per organisation (a
    customer and its supplier, ``deliver_in_app``), so no To: shows one organisation's people
    to another: one mail per organisation, not Bcc, so a team sees who of it was told."""
    by_locale: dict[tuple[int | None, str | None, tuple[str, str] | None], set[str]] = {}
    for recipient in recipients:
        by_locale.setdefault((recipient.organisation_id, recipient.locale, recipient.works_for),
                             set()).add(recipient.email)
    by_words: dict[tuple[int | None, str, str], set[str]] = {}
    for (org, locale, works_for), emails in by_locale.items():
        translate = translator(locale)
        told = {**payload, "works_for": works_for} if works_for else payload
        words = (mail_subject(told, rules, translate), message_text(told, rules, translate))
        by_words.setdefault((org, *words), set()).update(emails)
    return sorted((Mail(tuple(sorted(emails)), *words)
                   for (_org, *words), emails in by_words.items()), key=lambda mail: mail.to)


def deliver_in_app(session: Session, message_id: str, payload: dict[str, Any], now: datetime,
                   rules: Rules | None = None) -> tuple[Notification | None, list[Recipient]]:
    """Write the in-app notification once (a repeat delivery finds it); return it and the people
    to tell by email: the party's agents and managers (only managers for an SLA breach, the A),
    and the reporter where the reporter belongs to the party's organisation (SIT staff who log
    a customer's incident are not mailed as the customer), and the customer's suppliers on the
    ticket's system where the customer is told as R (``_suppliers_told``). Not the person
    whose own step it was (``actor``), but for the receipt of a ticket they raised: the in-app
    row stays, it is the organisation's inbox. A party told only of its approval (asked for
    it, or told that the change it approved ended: ``APPROVAL_REASONS``) is mailed to its
    managers, who approve for it."""
    deliver_in_app_many(session, [(message_id, payload)], now, rules)
    note = session.scalar(select(Notification).where(Notification.message_id == message_id))
    if note is None:  # no such ticket or party
        return None, []
    if payload.get("audience") == ADMIN_ALERT:
        admins = {str(e) for e in payload.get("recipients") or ()}
        locale_of = dict(session.execute(select(User.email, User.locale)
                                         .where(User.email.in_(admins))).all()) if admins else {}
        return note, [Recipient(e, locale_of.get(e)) for e in sorted(admins)]
    approval_only = set(payload.get("as") or ()) <= APPROVAL_REASONS and payload.get("as")
    roles = MANAGER_ROLES if payload.get("event") == "sla_breach" or approval_only \
        else WORKER_ROLES
    users = list(session.scalars(select(User).where(
        User.organisation_id == note.organisation_id, User.active.is_(True),
        User.role.in_([r.value for r in roles]))))
    ticket = session.get(Ticket, note.ticket_id)
    reporter = ticket.reporter
    if reporter is not None and reporter.active and \
            reporter.organisation_id == note.organisation_id:
        users.append(reporter)
    suppliers = _suppliers_told(session, payload, ticket)
    works_for = (ticket.system.customer.name, ticket.system.name) if suppliers else None
    # not mailed of one's own step; but whoever raises a ticket gets its receipt (the number
    # to quote, the link), as a caller of any service desk does
    actor = payload.get("actor") if payload.get("event") != "created" else None
    recipients = [Recipient(u.email, u.locale, u.organisation_id) for u in users] + \
        [Recipient(u.email, u.locale, u.organisation_id, works_for) for u in suppliers]
    return note, [r for r in {r.email: r for r in recipients}.values() if r.email != actor]


def _suppliers_told(session: Session, payload: dict[str, Any], ticket: Ticket) -> list[User]:
    """The supplier staff a customer notice is mailed to as well: a supplier holds its
    customer's R on the systems it is attached to, so what the customer is told as R (work in
    its queue: a hand-over, a ticket logged into it, the reporter's answer) goes to the
    supplier agents of the organisations attached to the ticket's system; and a supplier agent
    who reported the ticket is told what its reporter's side is told. Not the customer's C or
    A notices (a consultation, an SLA breach): those are the customer organisation's own."""
    reasons = set(payload.get("as") or ())
    if payload.get("party") != Party.CUSTOMER.value or not reasons & {"R", "reporter"}:
        return []
    attached = select(system_suppliers.c.organisation_id).where(
        system_suppliers.c.system_id == ticket.system_id)
    found = list(session.scalars(select(User).where(
        User.organisation_id.in_(attached), User.active.is_(True),
        User.role == Role.SUPPLIER_AGENT.value))) if "R" in reasons else []
    reporter = ticket.reporter
    if "reporter" in reasons and reporter is not None and reporter.active and \
            reporter.role == Role.SUPPLIER_AGENT.value and session.scalar(
                select(func.count()).select_from(system_suppliers).where(
                    system_suppliers.c.system_id == ticket.system_id,
                    system_suppliers.c.organisation_id == reporter.organisation_id)):
        found.append(reporter)
    return found


def deliver_in_app_many(session: Session, messages: list[tuple[str, dict[str, Any]]],
                        now: datetime, rules: Rules | None = None) -> int:
    """``deliver_in_app`` for many outbox rows at once, without the email addresses: one read of
    their tickets, one of the provider, one INSERT (a repeat delivery of a ``message_id``
    inserts nothing). Returns how many notifications are new."""
    ticket_ids = {p.get("ticket_id") for _, p in messages if isinstance(p.get("ticket_id"), int)}
    customer_of = dict(session.execute(
        select(Ticket.id, Ticket.customer_id).where(id_in(session, Ticket.id, ticket_ids)))
        .all()) if ticket_ids else {}
    provider_id = session.scalar(select(func.min(Organisation.id))
                                 .where(Organisation.kind == "provider"))
    rows = []
    for message_id, payload in messages:
        party = payload.get("party")
        ticket_id = payload.get("ticket_id")
        if payload.get("audience") == ADMIN_ALERT and provider_id is not None:
            party, ticket_id = Party.PROVIDER.value, None  # in the provider's inbox, admins only
        elif ticket_id not in customer_of:
            continue
        org_id = customer_of.get(ticket_id) if party == Party.CUSTOMER.value else \
            provider_id if party == Party.PROVIDER.value else None
        if org_id is None:
            continue
        rows.append({"organisation_id": org_id, "ticket_id": ticket_id, "party": party,
                     "event": str(payload.get("event"))[:60], "message": message_text(payload, rules),
                     "message_id": message_id, "created_at": now})
    if not rows:
        return 0
    dialect = postgresql if session.bind.dialect.name == "postgresql" else sqlite
    return session.execute(dialect.insert(Notification).values(rows)
                           .on_conflict_do_nothing(index_elements=[Notification.message_id])
                           ).rowcount


# --- the inbox ------------------------------------------------------------------------------

def _inbox(actor: Actor):
    """The actor's inbox as a WHERE clause list; NotPermitted for roles without one."""
    if actor.role not in INBOX_ROLES:
        raise NotPermitted("Reporters and suppliers have no inbox: follow your tickets instead.")
    where = [Notification.organisation_id == actor.organisation_id]
    if actor.role is not Role.ADMIN:
        where.append(Notification.ticket_id.is_not(None))  # security alerts: admins only
    return where


def inbox(session: Session, actor: Actor, *, before: Any = None, limit: int = 50
          ) -> tuple[list[Notification], int | None]:
    """The newest notifications of the actor's organisation, keyset-paginated on id (``before``
    is the previous page's ``next``): ([notifications], next or None)."""
    where = _inbox(actor)
    if before is not None:
        before = parse_id(before)  # past int32 the query itself would fail on PostgreSQL
        if before is None:
            raise ValidationError("Not a valid cursor.", {"before": ["Use the next page link."]})
        where.append(Notification.id < before)
    rows = list(session.scalars(select(Notification).where(*where)
                                .order_by(Notification.id.desc()).limit(limit + 1)))
    return rows[:limit], rows[limit - 1].id if len(rows) > limit else None


def unread_count(session: Session, actor: Actor) -> int:
    """Unread notifications in the actor's inbox, counted up to ``UNREAD_CAP`` + 1; 0 for roles
    without one."""
    if actor.role not in INBOX_ROLES:
        return 0
    unread = select(Notification.id).where(*_inbox(actor), Notification.read_at.is_(None)) \
        .limit(UNREAD_CAP + 1).subquery()
    return session.scalar(select(func.count()).select_from(unread)) or 0


def mark_read(session: Session, actor: Actor, ids: Any, *, now: datetime) -> int:
    """Mark notifications of the actor's inbox read (``ids`` None: all of them) for the whole
    team; ids outside the inbox are ignored. Returns how many were unread."""
    where = _inbox(actor)
    if ids is not None:
        if not isinstance(ids, list) or len(ids) > 500 or not all(
                isinstance(i, int) and not isinstance(i, bool) and 0 < i < 2**31 for i in ids):
            raise ValidationError("ids must be a list of up to 500 notification ids.",
                                  {"ids": ["A list of notification ids."]})
        if not ids:
            return 0
        where.append(id_in(session, Notification.id, ids))
    return session.execute(update(Notification).where(*where, Notification.read_at.is_(None))
                           .values(read_at=now).execution_options(synchronize_session=False)
                           ).rowcount
