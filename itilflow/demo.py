"""The demo data set: SIT, two customers, a supplier, named systems with and without
vagtordning, users of every role and tickets in every state, written through the services so
the history is real."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from itilflow.models import Organisation, Ticket, User
from itilflow.services import directory, tickets
from itilflow.services.rules import Rules

PASSWORD = "demo-password"

ORGS = [
    ("Statens It", "provider"),
    ("Geodatastyrelsen", "customer"),
    ("Erhvervsstyrelsen", "customer"),
    ("Netcompany A/S", "supplier"),
]
USERS = [
    ("admin@sit.example", "Astrid Admin", "Statens It", "admin"),
    ("servicedesk@sit.example", "Søren Servicedesk", "Statens It", "sit_agent"),
    ("drift@sit.example", "Dorthe Drift", "Statens It", "sit_agent"),
    ("leder@sit.example", "Lars Leder", "Statens It", "sit_manager"),
    ("anne@gst.example", "Anne Andersen", "Geodatastyrelsen", "reporter"),
    ("it@gst.example", "Mikkel Madsen", "Geodatastyrelsen", "customer_agent"),
    ("chef@gst.example", "Karen Kristensen", "Geodatastyrelsen", "customer_manager"),
    ("bo@erst.example", "Bo Bertelsen", "Erhvervsstyrelsen", "reporter"),
    ("it@erst.example", "Ida Iversen", "Erhvervsstyrelsen", "customer_agent"),
    ("chef@erst.example", "Henrik Holm", "Erhvervsstyrelsen", "customer_manager"),
    ("support@netcompany.example", "Nanna Nielsen", "Netcompany A/S", "supplier_agent"),
]
SYSTEMS = [
    ("kortforsyningen", "Kortforsyningen", "Geodatastyrelsen",
     ["production", "pre-production", "test"], True, {"load_balancer": True}, ["Netcompany A/S"]),
    ("matrikelarkiv", "Matrikelarkivet", "Geodatastyrelsen", ["production", "test"], False, {}, []),
    ("virk-indberet", "Virk Indberet", "Erhvervsstyrelsen", ["production", "pre-production"],
     True, {"dedicated_physical": True}, []),
]

# (reporter, system, environment, layer, title, description, impact, urgency, outage, steps)
# Each step is (actor email, trigger, fields).
INCIDENTS = [
    ("anne@gst.example", "kortforsyningen", "production", None,
     "Kortet indlæses ikke i WMS-klienten",
     "Siden 07:40 får vores brugere timeout på GetMap-kald mod kortforsyningen.", 1, 1, True, []),
    ("anne@gst.example", "kortforsyningen", "production", "operating_system",
     "Disk full on map tile server", "/var on the tile cache server is at 100 %.", 2, 1, False,
     [("drift@sit.example", "assign", {"assignee": "drift@sit.example"})]),
    ("anne@gst.example", "matrikelarkiv", "production", "application",
     "Søgning i matrikelarkivet giver fejl 500",
     "Søgning på matrikelnummer 12a fejler for alle brugere.", 2, 2, False,
     [("it@gst.example", "start_work", {})]),
    ("bo@erst.example", "virk-indberet", "production", "middleware",
     "Database connection pool exhausted", "Indberetninger hænger i flere minutter.", 2, 2, False,
     [("it@erst.example", "start_work", {}),
      ("it@erst.example", "wait_for_supplier", {"comment": "Awaiting the DB vendor's patch."})]),
    ("anne@gst.example", "kortforsyningen", "test", "infrastructure",
     "Load balancer health check flapping", "The test pool flips between up and down.", 3, 2,
     False, [("servicedesk@sit.example", "start_work", {}),
             ("servicedesk@sit.example", "wait_for_customer",
              {"comment": "Which health-check URL should the pool use?"})]),
    ("anne@gst.example", "kortforsyningen", "production", "infrastructure",
     "Storage latency spikes at night", "Backup windows slow the tile server.", 3, 3, False,
     [("drift@sit.example", "start_work", {}),
      ("drift@sit.example", "resolve", {"resolution": "Moved the backup job to another LUN."})]),
    ("bo@erst.example", "virk-indberet", "pre-production", "operating_system",
     "Certificate expired on pre-production", "TLS handshake fails.", 3, 3, False,
     [("servicedesk@sit.example", "resolve", {"resolution": "Renewed the certificate."}),
      ("bo@erst.example", "confirm", {})]),
    ("anne@gst.example", "matrikelarkiv", "test", None, "Forkert tidszone i logfiler",
     "Logfilerne viser UTC i stedet for dansk tid.", 3, 3, False,
     [("servicedesk@sit.example", "cancel", {"comment": "Expected: logs are kept in UTC."})]),
]


def load_demo(session: Session, rules: Rules, *, now: datetime) -> list[tuple[str, str, str]]:
    """Load the data set once; returns the accounts created (email, password, role)."""
    if session.scalar(select(Organisation.id).limit(1)) is not None:
        return []
    start = now - timedelta(days=3)
    for name, kind in ORGS:
        directory.create_organisation(session, name=name, kind=kind, now=start)
    accounts = []
    for email, name, org, role in USERS:
        directory.create_user(session, email=email, name=name, organisation=org, role=role,
                              password=PASSWORD, now=start)
        accounts.append((email, PASSWORD, role))
    for key, name, customer, envs, vagt, options, suppliers in SYSTEMS:
        directory.create_system(session, key=key, name=name, customer=customer,
                                environments=envs, vagtordning=vagt, options=options,
                                suppliers=suppliers, now=start)
    users = {u.email: u for u in session.scalars(select(User))}

    def actor(email: str):
        return users[email], directory.load_actor(session, users[email])

    when = start
    for (reporter, system, env, layer, title, text, impact, urgency, outage,
         steps) in INCIDENTS:
        when += timedelta(hours=5)
        user, ctx = actor(reporter)
        ticket = tickets.submit_incident(session, rules, user, ctx, {
            "system": system, "environment": env, "layer": layer, "title": title,
            "description": text, "impact": impact, "urgency": urgency, "outage": outage,
        }, now=when)
        for email, trigger, fields in steps:
            when += timedelta(minutes=37)
            user, ctx = actor(email)
            tickets.fire_transition(session, rules, user, ctx, ticket.id, trigger, fields,
                                    now=when)
    # a problem from the disk-full incident, and an OS change waiting on the customer
    sit, sit_ctx = actor("drift@sit.example")
    disk = session.scalar(select(Ticket).where(Ticket.title == "Disk full on map tile server"))
    problem = tickets.submit_problem(session, rules, sit, sit_ctx, {
        "system": "kortforsyningen", "layer": "operating_system",
        "title": "Log rotation missing on tile servers",
        "description": "Logs grow without bound on every tile server.", "incidents": [disk.id],
    }, now=when)
    tickets.fire_transition(session, rules, sit, sit_ctx, problem.id, "investigate", {}, now=when)
    change = tickets.submit_change(session, rules, sit, sit_ctx, {
        "system": "kortforsyningen", "environment": "production", "layer": "operating_system",
        "change_type": "normal", "title": "Upgrade tile servers to Debian 13",
        "description": "In-place upgrade of the OS on all four tile servers.",
        "planned_start": (now + timedelta(days=7)).isoformat(),
        "planned_end": (now + timedelta(days=7, hours=4)).isoformat(),
    }, now=when)
    for trigger, fields in [
        ("assess", {}),
        ("request_approval", {"risk": "medium",
                              "impact_assessment": "Tiles served from the other pool."}),
    ]:
        tickets.fire_transition(session, rules, sit, sit_ctx, change.id, trigger, fields, now=when)
    boss, boss_ctx = actor("leder@sit.example")
    tickets.fire_transition(session, rules, boss, boss_ctx, change.id, "approve", {}, now=when)
    tickets.fire_transition(session, rules, sit, sit_ctx, change.id, "consult", {
        "stage": "installation_test",
        "question": "May we run the installation test on Tuesday 10-12?"}, now=when)
    tickets.submit_change(session, rules, *actor("it@gst.example"), {
        "system": "matrikelarkiv", "environment": "production", "layer": "application",
        "change_type": "standard", "title": "Monthly application release 2026.12",
        "description": "Routine release from the application supplier.",
        "planned_start": (now + timedelta(days=2)).isoformat(),
        "planned_end": (now + timedelta(days=2, hours=1)).isoformat(),
    }, now=when)
    session.flush()
    return accounts
