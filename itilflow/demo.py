"""The demo data set: SIT, two customers, a supplier, named systems with and without
vagtordning, users of every role and tickets in every state, written through the services so
the history is real."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from itilflow.models import Organisation, User
from itilflow.services import changes, directory, requests, tickets
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


# The rest of the data set is told as stories: each ticket is raised by its R (or reporter) and
# moved on by the people of the right party, one step at a time (`_run` plays every story's
# steps in the order they happened, so numbers and histories follow the clock). A step is
# (time after the story's start, actor, what, fields): what is `incident`, `problem`, `change` or
# `request` to raise the ticket, else the trigger to fire. A problem names its incidents by title.
M, H, D = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)
#: how long before now the organisations, accounts and systems were set up (the oldest
#: ticket is three weeks old; the templates are a day younger than the accounts)
SETUP_DAYS = 60
TEMPLATES = [  # (key, name, activity, layer, description)
    ("os-patch", "Månedlig sikkerhedsopdatering af operativsystemet", "patch_management",
     "operating_system", "Sikkerhedsopdateringer og service packs til det aktuelle niveau, "
     "installeret i systemets faste servicevindue."),
    ("app-release", "Monthly application release", "installation_in_production", "application",
     "Routine release from the application supplier."),
]


def _window(now: datetime, start: timedelta, hours: float) -> dict[str, str]:
    """A planned window ``start`` from now (negative: in the past), ``hours`` long."""
    begin = now + start
    return {"planned_start": begin.isoformat(),
            "planned_end": (begin + timedelta(hours=hours)).isoformat()}


def _incident_stories(start: datetime) -> list[tuple[datetime, list]]:
    stories, when = [], start
    for (reporter, system, env, layer, title, text, impact, urgency, outage,
         steps) in INCIDENTS:
        when += 5 * H
        opened, story = when, [(timedelta(0), reporter, "incident", {
            "system": system, "environment": env, "layer": layer, "title": title,
            "description": text, "impact": impact, "urgency": urgency, "outage": outage})]
        for email, trigger, fields in steps:
            when += 37 * M
            story.append((when - opened, email, trigger, fields))
        stories.append((opened, story))
    return stories


def _problem_stories(now: datetime) -> list[tuple[datetime, list]]:
    """A problem in every state, each from incidents of the last days."""
    return [
        (now - 40 * H, [
            (timedelta(0), "it@erst.example", "problem", {
                "system": "virk-indberet", "layer": "middleware",
                "title": "Databasens forbindelsespulje løber tør under spidsbelastning",
                "description": "Tredje gang på en måned hænger indberetningerne, fordi "
                               "forbindelsespuljen er opbrugt.",
                "incidents": ["Database connection pool exhausted"]}),
            (1 * H, "it@erst.example", "investigate", {}),
            (6 * H, "it@erst.example", "record_known_error", {
                "root_cause": "Forbindelser lukkes ikke, når en bruger afbryder en indberetning "
                              "undervejs; puljen fyldes op over nogle timer.",
                "workaround": "Genstart indberetningsservicen, når puljen er 90 % fuld "
                              "(overvågningen giver alarm); leverandørens rettelse følger."}),
        ]),
        (now - 36 * H, [
            (timedelta(0), "drift@sit.example", "problem", {
                "system": "kortforsyningen", "layer": "infrastructure",
                "title": "Natlig backup giver høj storage-latenstid",
                "description": "Tile-serverne svarer langsomt, mens den fulde backup kører.",
                "incidents": ["Storage latency spikes at night"]}),
            (1 * H, "drift@sit.example", "investigate", {}),
            (10 * H, "drift@sit.example", "resolve", {
                "resolution": "Backupjobbet læser nu fra et dedikeret LUN uden for "
                              "tile-serverens storagepulje.",
                "root_cause": "Backupjobbet og tile-cachen delte LUN; nattens fulde backup "
                              "mættede I/O."}),
        ]),
        (now - 48 * H, [
            (timedelta(0), "it@gst.example", "problem", {
                "system": "matrikelarkiv", "layer": "application",
                "title": "Søgeindekset i Matrikelarkivet bliver inkonsistent",
                "description": "Søgninger fejler periodisk, indtil indekset bygges igen.",
                "incidents": ["Søgning i matrikelarkivet giver fejl 500"]}),
            (2 * H, "it@gst.example", "investigate", {}),
            (26 * H, "chef@gst.example", "cancel", {
                "comment": "Leverandøren erstatter søgemodulet i release 2027.1; vi undersøger "
                           "ikke årsagen i det gamle modul yderligere."}),
        ]),
        (now - 30 * H, [
            (timedelta(0), "servicedesk@sit.example", "problem", {
                "system": "virk-indberet", "layer": "operating_system",
                "title": "Certifikater udløber uden varsel",
                "description": "Certifikatet i pre-produktion udløb, uden at nogen blev varslet.",
                "incidents": ["Certificate expired on pre-production"]}),
            (1 * H, "servicedesk@sit.example", "investigate", {}),
            (3 * H, "servicedesk@sit.example", "record_known_error", {
                "root_cause": "Certifikatet var fornyet manuelt sidste år og kom ikke med i "
                              "certifikatovervågningen.",
                "workaround": "Tjek udløbsdatoer med openssl på serverne, før et miljø "
                              "tages i brug."}),
            (8 * H, "servicedesk@sit.example", "resolve", {
                "resolution": "Alle certifikater på Virk Indberets servere er lagt i "
                              "overvågningen, som varsler 30 dage før udløb.",
                "root_cause": "Manuelt fornyede certifikater var ikke i overvågningen."}),
            (20 * H, "leder@sit.example", "close", {}),
        ]),
        (now - 24 * H, [
            (timedelta(0), "drift@sit.example", "problem", {
                "system": "kortforsyningen", "layer": "operating_system",
                "title": "Log rotation missing on tile servers",
                "description": "Logs grow without bound on every tile server.",
                "incidents": ["Disk full on map tile server"]}),
            (30 * M, "drift@sit.example", "investigate", {}),
        ]),
        (now - 20 * H, [
            (timedelta(0), "servicedesk@sit.example", "problem", {
                "system": "kortforsyningen", "layer": "infrastructure",
                "title": "Ustabile health checks på load balancer-puljerne",
                "description": "Puljen i testmiljøet skifter mellem oppe og nede; samme mønster "
                               "er set kortvarigt i pre-produktion.",
                "incidents": ["Load balancer health check flapping"]}),
        ]),
    ]


def _change_stories(now: datetime) -> list[tuple[datetime, list]]:
    """Changes of every type in every state: standard ones from a template, normal ones through
    approval and the test stages (the customer consulted on each operating system stage),
    emergency ones authorised at once and reviewed afterwards."""
    sit_os = {"environment": "production", "layer": "operating_system"}
    return [
        # standard (os-patch): run in its window, outcome recorded, closed after review
        (now - 21 * D, [
            (timedelta(0), "drift@sit.example", "change", {
                "system": "virk-indberet", **sit_os, "template": "os-patch",
                **_window(now, -19 * D, 4)}),
            (1 * H, "drift@sit.example", "pre_approve", {}),
            (2 * D + 30 * M, "drift@sit.example", "implement", {}),
            (2 * D + 2 * H, "drift@sit.example", "complete", {
                "outcome": "successful",
                "comment": "Alle servere opdateret og genstartet; indberetning testet efter "
                           "genstart."}),
            (3 * D, "leder@sit.example", "close", {"comment": "Gennemført i vinduet."}),
        ]),
        # emergency: authorised by SIT's manager, installed, the customer consulted in review
        (now - 14 * D, [
            (timedelta(0), "drift@sit.example", "change", {
                "system": "virk-indberet", **sit_os, "change_type": "emergency",
                "title": "Akut sikkerhedsopdatering af OpenSSH",
                "description": "Leverandøren har udsendt en kritisk rettelse til OpenSSH; "
                               "serverne er tilgængelige fra internettet.",
                **_window(now, -14 * D + 1 * H, 4)}),
            (20 * M, "leder@sit.example", "authorise_emergency", {
                "comment": "Sårbarheden udnyttes aktivt; vi kan ikke vente på næste vindue."}),
            (1 * H + 10 * M, "drift@sit.example", "emergency_install", {}),
            (2 * H + 30 * M, "drift@sit.example", "complete", {
                "outcome": "successful", "comment": "Opdateret på begge servere uden nedetid."}),
            (1 * D, "drift@sit.example", "consult", {
                "stage": "installation_in_production",
                "question": "OpenSSH blev opdateret i går; har I set afvigelser i "
                            "jeres integrationer siden?"}),
            (1 * D + 3 * H, "it@erst.example", "answer_consultation", {
                "stage": "installation_in_production",
                "answer": "Ingen afvigelser; filoverførslerne til SKAT kører som normalt."}),
            (2 * D, "leder@sit.example", "close", {
                "comment": "Gennemgået: ingen afvigelser, kunden hørt."}),
        ]),
        # normal (middleware): the customer's own manager rejects it
        (now - 10 * D, [
            (timedelta(0), "it@erst.example", "change", {
                "system": "virk-indberet", "environment": "production", "layer": "middleware",
                "change_type": "normal", "title": "Opgradering af PostgreSQL 15 til 17",
                "description": "Opgradering af indberetningsdatabasen med pg_upgrade.",
                **_window(now, 20 * D, 6)}),
            (2 * H, "it@erst.example", "assess", {}),
            (1 * D, "it@erst.example", "request_approval", {
                "risk": "high", "impact_assessment": "Indberetningen er lukket i ca. to timer; "
                                                     "tilbagerulning fra snapshot."}),
            (2 * D, "chef@erst.example", "reject", {
                "comment": "Ikke under årsindberetningen; planlæg opgraderingen efter 1. marts."}),
        ]),
        # normal (operating system): the installation test fails, the change is cancelled
        (now - 9 * D, [
            (timedelta(0), "drift@sit.example", "change", {
                "system": "kortforsyningen", "environment": "test", "layer": "operating_system",
                "change_type": "normal", "title": "Ny multipath-driver på testserverne",
                "description": "Skift til den nye multipath-driver til SAN-forbindelserne.",
                **_window(now, -5 * D, 3)}),
            (1 * H, "drift@sit.example", "assess", {}),
            (3 * H, "drift@sit.example", "request_approval", {
                "risk": "medium", "impact_assessment": "Testmiljøet er utilgængeligt under "
                                                       "installationen."}),
            (1 * D, "leder@sit.example", "approve", {}),
            (1 * D + 1 * H, "drift@sit.example", "consult", {
                "stage": "installation_test",
                "question": "Må vi lave installationsprøven på testserverne i overmorgen kl. 9-12?"}),
            (1 * D + 5 * H, "it@gst.example", "answer_consultation", {
                "stage": "installation_test",
                "answer": "Ja, det passer; vi giver vores testere besked."}),
            (3 * D, "drift@sit.example", "start_installation_test", {}),
            (3 * D + 4 * H, "drift@sit.example", "cancel", {
                "comment": "Installationsprøven fejlede: driveren understøtter ikke "
                           "firmwaren på HBA-kortene. Ny ændring, når leverandøren har "
                           "frigivet en rettelse."}),
        ]),
        # normal (operating system): every stage consulted, installed, backed out: in review
        (now - 8 * D, [
            (timedelta(0), "drift@sit.example", "change", {
                "system": "kortforsyningen", **sit_os, "change_type": "normal",
                "title": "Kerneopdatering på tile-serverne",
                "description": "Ny kerne og firmware på de fire tile-servere.",
                **_window(now, -2 * D, 4)}),
            (1 * H, "drift@sit.example", "assess", {}),
            (2 * H, "drift@sit.example", "request_approval", {
                "risk": "medium", "impact_assessment": "Én server ad gangen; load balanceren "
                                                       "leder trafikken uden om."}),
            (1 * D, "leder@sit.example", "approve", {"comment": "Godkendt; én server ad gangen."}),
            (1 * D + 1 * H, "drift@sit.example", "consult", {
                "stage": "installation_test",
                "question": "Må vi installere den nye kerne på testserverne i morgen?"}),
            (1 * D + 4 * H, "chef@gst.example", "answer_consultation", {
                "stage": "installation_test", "answer": "Ja."}),
            (2 * D, "drift@sit.example", "start_installation_test", {}),
            (2 * D + 1 * H, "drift@sit.example", "consult", {
                "stage": "acceptance_test",
                "question": "Installationen i test er gået godt; vil I lave "
                            "overtagelsesprøven af WMS-tjenesten i test?"}),
            (2 * D + 5 * H, "it@gst.example", "answer_consultation", {
                "stage": "acceptance_test", "answer": "Ja, vi tester i morgen formiddag."}),
            (3 * D, "drift@sit.example", "start_acceptance_test", {}),
            (3 * D + 1 * H, "drift@sit.example", "consult", {
                "stage": "operational_test",
                "question": "Må driftsprøven køre i pre-produktion med jeres belastningstest?"}),
            (3 * D + 6 * H, "it@gst.example", "answer_consultation", {
                "stage": "operational_test",
                "answer": "Ja; Netcompany kører belastningstesten i morgen."}),
            (4 * D, "drift@sit.example", "start_operational_test", {}),
            (4 * D + 1 * H, "drift@sit.example", "consult", {
                "stage": "installation_in_production",
                "question": "Produktionsvinduet er i overmorgen, én server ad gangen. "
                            "I orden?"}),
            (4 * D + 5 * H, "chef@gst.example", "answer_consultation", {
                "stage": "installation_in_production", "answer": "I orden."}),
            (6 * D + 30 * M, "drift@sit.example", "install_in_production", {}),
            (6 * D + 3 * H, "drift@sit.example", "complete", {
                "outcome": "backed_out",
                "comment": "Tile-server 2 startede ikke med den nye kerne (storage-driveren "
                           "blev ikke indlæst); alle servere rullet tilbage til forrige kerne "
                           "inden for vinduet."}),
        ]),
        # normal (operating system): in its acceptance test, both stages consulted
        (now - 6 * D, [
            (timedelta(0), "drift@sit.example", "change", {
                "system": "matrikelarkiv", **sit_os, "change_type": "normal",
                "title": "Ny backupagent på Matrikelarkivets servere",
                "description": "Den gamle backupagent er udgået; den nye understøtter "
                               "krypteret backup.", **_window(now, 5 * D, 3)}),
            (1 * H, "drift@sit.example", "assess", {}),
            (2 * H, "drift@sit.example", "request_approval", {
                "risk": "low", "impact_assessment": "Ingen nedetid; nattens backup kører med "
                                                    "den nye agent."}),
            (1 * D, "leder@sit.example", "approve", {}),
            (1 * D + 1 * H, "drift@sit.example", "consult", {
                "stage": "installation_test",
                "question": "Må vi installere agenten på testserveren i dag?"}),
            (1 * D + 3 * H, "it@gst.example", "answer_consultation", {
                "stage": "installation_test", "answer": "Ja."}),
            (2 * D, "drift@sit.example", "start_installation_test", {}),
            (2 * D + 2 * H, "drift@sit.example", "consult", {
                "stage": "acceptance_test",
                "question": "Vil I kontrollere en testgendannelse af arkivet fra den nye "
                            "agents backup?"}),
            (3 * D, "it@gst.example", "answer_consultation", {
                "stage": "acceptance_test",
                "answer": "Ja, vi kontrollerer gendannelsen i morgen."}),
            (3 * D + 2 * H, "drift@sit.example", "start_acceptance_test", {}),
        ]),
        # normal (application): the customer's release, in its operational test
        (now - 5 * D, [
            (timedelta(0), "it@erst.example", "change", {
                "system": "virk-indberet", "environment": "production", "layer": "application",
                "change_type": "normal", "title": "Virk Indberet release 2026.12",
                "description": "Nye felter til årsindberetningen og rettelser.",
                **_window(now, 2 * D, 2)}),
            (30 * M, "it@erst.example", "assess", {}),
            (2 * H, "it@erst.example", "request_approval", {
                "risk": "low", "impact_assessment": "Kort nedetid ved skift af version."}),
            (1 * D, "chef@erst.example", "approve", {}),
            (1 * D + 2 * H, "it@erst.example", "start_installation_test", {}),
            (2 * D, "it@erst.example", "start_acceptance_test", {}),
            (3 * D, "it@erst.example", "start_operational_test", {}),
        ]),
        # normal (application): raised by the customer's supplier, in its installation test
        (now - 4 * D, [
            (timedelta(0), "support@netcompany.example", "change", {
                "system": "kortforsyningen", "environment": "pre-production",
                "layer": "application", "change_type": "normal",
                "title": "WMS-tjenesten version 3.4",
                "description": "Ny version fra Netcompany med hurtigere GetMap-kald.",
                **_window(now, 6 * D, 2)}),
            (1 * H, "support@netcompany.example", "assess", {}),
            (2 * H, "support@netcompany.example", "request_approval", {
                "risk": "low", "impact_assessment": "Kun pre-produktion; ingen brugere "
                                                    "berøres."}),
            (1 * D, "chef@gst.example", "approve", {}),
            (2 * D, "support@netcompany.example", "start_installation_test", {}),
        ]),
        # normal (application): the customer assesses it
        (now - 2 * D, [
            (timedelta(0), "it@gst.example", "change", {
                "system": "matrikelarkiv", "environment": "production", "layer": "application",
                "change_type": "normal", "title": "Søgning på ejerlav i Matrikelarkivet",
                "description": "Ny søgning på ejerlav og matrikelnummer.",
                **_window(now, 18 * D, 2)}),
            (2 * H, "it@gst.example", "assess", {}),
        ]),
        # normal (operating system, touching the application): SIT has approved, the customer
        # has still to
        (now - 2 * D, [
            (timedelta(0), "drift@sit.example", "change", {
                "system": "virk-indberet", **sit_os, "change_type": "normal",
                "affected_layers": ["application"],
                "title": "TLS 1.3 og nye cipher suites på webserverne",
                "description": "Ældre protokoller slås fra på Virk Indberets webservere.",
                **_window(now, 10 * D, 2)}),
            (1 * H, "drift@sit.example", "assess", {}),
            (3 * H, "drift@sit.example", "request_approval", {
                "risk": "medium", "impact_assessment": "Klienter uden TLS 1.2 eller nyere kan "
                                                       "ikke længere forbinde; jeres "
                                                       "integrationer skal testes."}),
            (1 * D, "leder@sit.example", "approve", {"comment": "Godkendt for SIT's del."}),
        ]),
        # normal (operating system): approved, waiting for the customer's answer on the test
        (now - 30 * H, [
            (timedelta(0), "drift@sit.example", "change", {
                "system": "kortforsyningen", **sit_os, "change_type": "normal",
                "title": "Upgrade tile servers to Debian 13",
                "description": "In-place upgrade of the OS on all four tile servers.",
                **_window(now, 7 * D, 4)}),
            (1 * H, "drift@sit.example", "assess", {}),
            (2 * H, "drift@sit.example", "request_approval", {
                "risk": "medium", "impact_assessment": "Tiles served from the other pool."}),
            (20 * H, "leder@sit.example", "approve", {}),
            (21 * H, "drift@sit.example", "consult", {
                "stage": "installation_test",
                "question": "May we run the installation test on Tuesday 10-12?"}),
        ]),
        # standard (app-release): a customer's release, pre-approved by its template
        (now - 1 * D, [
            (timedelta(0), "it@gst.example", "change", {
                "system": "matrikelarkiv", "environment": "production", "layer": "application",
                "change_type": "standard", "template": "app-release",
                "title": "Monthly application release 2026.12",
                "description": "Routine release from the application supplier.",
                **_window(now, 2 * D, 1)}),
        ]),
        # emergency (infrastructure): authorised at once, being installed now
        (now - 3 * H, [
            (timedelta(0), "drift@sit.example", "change", {
                "system": "kortforsyningen", "environment": "production",
                "layer": "infrastructure", "change_type": "emergency",
                "title": "Udskiftning af defekt RAID-controller på tile-server 3",
                "description": "Controlleren melder fejl på cache-batteriet.",
                **_window(now, -150 * M, 4)}),
            (15 * M, "leder@sit.example", "authorise_emergency", {
                "comment": "Risiko for datatab ved næste strømudfald; serveren er taget ud af "
                           "load balanceren."}),
            (45 * M, "drift@sit.example", "emergency_install", {}),
        ]),
    ]


def _request_stories(now: datetime) -> list[tuple[datetime, list]]:
    """Service requests in every state: access, a backup check, restores on request (footnote
    7: SIT restores the customer's database after the customer has been consulted)."""
    restore = {"layer": "middleware", "activity": "restore", "on_request": True}
    return [
        (now - 7 * D, [
            (timedelta(0), "it@gst.example", "request", {
                "system": "kortforsyningen", "environment": "production",
                "layer": "operating_system", "activity": "backup",
                "title": "Kontrol af backup før migrering",
                "description": "Vi migrerer kortdata i næste uge; bekræft venligst, at nattens "
                               "backup kan gendannes."}),
            (1 * H, "servicedesk@sit.example", "start_work", {}),
            (5 * H, "servicedesk@sit.example", "fulfil", {
                "resolution": "Nattens fulde backup er kontrolleret ved en testgendannelse til "
                              "et isoleret miljø."}),
            (1 * D, "it@gst.example", "confirm", {}),
        ]),
        (now - 5 * D, [
            (timedelta(0), "it@gst.example", "request", {
                "system": "kortforsyningen", "environment": "production",
                "layer": "operating_system", "activity": "administrative_access",
                "title": "Administratoradgang til tile-serverne",
                "description": "Vores udviklere ønsker root-adgang for at fejlsøge hurtigere."}),
            (4 * H, "leder@sit.example", "reject", {
                "comment": "Teknisk administrativ adgang til operativsystemet ligger hos "
                           "Statens It; I har fortsat fuld funktionel adgang til applikation "
                           "og middleware. Servicedesken hjælper gerne med fejlsøgningen."}),
        ]),
        (now - 4 * D, [
            (timedelta(0), "bo@erst.example", "request", {
                "system": "virk-indberet", "environment": "production",
                "layer": "application", "activity": "user_access",
                "title": "Brugeradgang for vikar", "description": "Vikar i tre måneder fra næste måned."}),
            (1 * D, "bo@erst.example", "cancel", {
                "comment": "Vikariatet er aflyst; adgangen skal ikke oprettes."}),
        ]),
        (now - 2 * D, [
            (timedelta(0), "it@gst.example", "request", {
                "system": "kortforsyningen", "environment": "test", **restore,
                "title": "Gendannelse af PostGIS-databasen i testmiljøet",
                "description": "En fejlslagen dataindlæsning har ødelagt testdata; gendan "
                               "venligst fra nattens backup."}),
            (1 * H, "drift@sit.example", "start_work", {}),
            (1 * H + 15 * M, "drift@sit.example", "consult", {
                "question": "Vi gendanner fra backuppen i nat kl. 02:00; ændringer efter det "
                            "tidspunkt går tabt. Er det i orden?"}),
            (3 * H, "it@gst.example", "answer_consultation", {
                "answer": "Ja, det er i orden."}),
            (5 * H, "drift@sit.example", "fulfil", {
                "resolution": "Databasen er gendannet fra backuppen kl. 02:00 og kontrolleret."}),
        ]),
        (now - 6 * H, [
            (timedelta(0), "it@erst.example", "request", {
                "system": "virk-indberet", "environment": "pre-production", **restore,
                "title": "Gendannelse af indberetningsdatabasen i pre-produktion",
                "description": "Gendan venligst til det seneste ugentlige snapshot før næste testrunde."}),
            (30 * M, "servicedesk@sit.example", "start_work", {}),
            (45 * M, "servicedesk@sit.example", "consult", {
                "question": "Det ugentlige snapshot er fra fredag kl. 18:00; alt indberettet i "
                            "pre-produktion siden går tabt. Skal vi gå videre?"}),
        ]),
        (now - 3 * H, [
            (timedelta(0), "anne@gst.example", "request", {
                "system": "matrikelarkiv", "environment": "production",
                "layer": "application", "activity": "user_access",
                "title": "Brugeradgang til Matrikelarkivet for ny kollega",
                "description": "Jens Jensen starter i matrikelenheden i næste uge."}),
        ]),
    ]


def load_demo(session: Session, rules: Rules, *, now: datetime) -> list[tuple[str, str, str]]:
    """Load the data set once; returns the accounts created (email, password, role)."""
    if session.scalar(select(Organisation.id).limit(1)) is not None:
        return []
    setup = now - timedelta(days=SETUP_DAYS)
    for name, kind in ORGS:
        directory.create_organisation(session, name=name, kind=kind, now=setup)
    accounts = []
    for email, name, org, role in USERS:
        directory.create_user(session, email=email, name=name, organisation=org, role=role,
                              password=PASSWORD, now=setup)
        accounts.append((email, PASSWORD, role))
    for key, name, customer, envs, vagt, options, suppliers in SYSTEMS:
        directory.create_system(session, key=key, name=name, customer=customer,
                                environments=envs, vagtordning=vagt, options=options,
                                suppliers=suppliers, now=setup)
    users = {u.email: u for u in session.scalars(select(User))}
    actors = {email: (user, directory.load_actor(session, user)) for email, user in users.items()}
    # a standard change is pre-approved by its template (without one it is a normal change)
    for key, name, activity, layer, description in TEMPLATES:
        changes.create_template(session, rules, actors["admin@sit.example"][1], {
            "key": key, "name": name, "activity": activity, "layer": layer,
            "description": description}, now=setup + 1 * D)
    stories = [*_incident_stories(now - timedelta(days=3)), *_problem_stories(now),
               *_change_stories(now), *_request_stories(now)]
    _run(session, rules, actors, stories)
    session.flush()
    return accounts


SUBMIT = {"incident": tickets.submit_incident, "problem": tickets.submit_problem,
          "change": tickets.submit_change, "request": requests.submit_request}


def _run(session: Session, rules: Rules, actors: dict, stories: list[tuple[datetime, list]]
         ) -> None:
    """Play every story's steps in the order they happened: each ticket is raised, and its
    number taken, when its story starts."""
    steps = sorted(((opened + after, n, i, email, what, fields)
                    for n, (opened, story) in enumerate(stories)
                    for i, (after, email, what, fields) in enumerate(story)),
                   key=lambda step: step[:3])
    ticket_of: dict[int, int] = {}
    by_title: dict[str, int] = {}
    for when, n, _i, email, what, fields in steps:
        user, ctx = actors[email]
        if what in SUBMIT:
            if "incidents" in fields:
                fields = {**fields, "incidents": [by_title[t] for t in fields["incidents"]]}
            ticket = SUBMIT[what](session, rules, user, ctx, fields, now=when)
            ticket_of[n], by_title[ticket.title] = ticket.id, ticket.id
        else:
            tickets.fire_transition(session, rules, user, ctx, ticket_of[n], what, fields,
                                    now=when)
