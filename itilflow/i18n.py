"""Danish and English: a small gettext-style catalogue. English is the source language; the
Danish text is looked up by the English one. No Flask here: the web picks the request's locale
(``itilflow.web.i18n``), a job passes its reader's (``translate``)."""

from __future__ import annotations

import re

LOCALES = ("en", "da")
DEFAULT_LOCALE = "en"

DA: dict[str, str] = {
    # navigation and chrome
    "Skip to content": "Gå til indhold",
    "Portal": "Portal",
    "My organisation's tickets": "Min organisations sager",
    "Report an incident": "Meld en fejl",
    "Workspace": "Arbejdsplads",
    "Admin": "Administration",
    "Monthly report": "Månedsrapport",
    "Notifications": "Beskeder",
    "%(n)s unread": "%(n)s ulæste",
    "Mark all as read": "Markér alle som læst",
    "Mark selected as read": "Markér valgte som læst",
    "Marked as read: %(n)s.": "Markeret som læst: %(n)s.",
    "What your organisation is told about its tickets. Read marks are shared by the whole team.":
        "Det, din organisation får besked om i sine sager. Læst-markeringer deles af hele teamet.",
    "When": "Hvornår",
    "What happened": "Hvad skete der",
    "Ticket": "Sag",
    "Open": "Åbn",
    "new": "ny",
    "Older": "Ældre",
    "Nothing yet.": "Intet endnu.",
    "Account": "Konto",
    "Sign in": "Log ind",
    "Sign out": "Log ud",
    "Sign out of itilflow on every device where you are signed in?":
        "Log ud af itilflow på alle enheder, hvor du er logget ind?",
    "You are signed out.": "Du er logget ud.",
    "Email": "E-mail",
    "Password": "Adgangskode",
    "Unknown email or wrong password.": "Ukendt e-mail eller forkert adgangskode.",
    "Language": "Sprog",
    "Browser default": "Browserens sprog",
    "Save": "Gem",
    "Saved.": "Gemt.",
    "Change password": "Skift adgangskode",
    "Current password": "Nuværende adgangskode",
    "New password": "Ny adgangskode",
    "Repeat the new password": "Gentag den nye adgangskode",
    "The current password is wrong.": "Den nuværende adgangskode er forkert.",
    "The two passwords differ.": "De to adgangskoder er forskellige.",
    "The new password must differ from the current one.":
        "Den nye adgangskode skal være forskellig fra den nuværende.",
    "Your password is changed. Sign in again with the new one.":
        "Din adgangskode er skiftet. Log ind igen med den nye.",
    "At least 10 characters.": "Mindst 10 tegn.",
    "Signed in as": "Logget ind som",
    # errors
    "Too many attempts": "For mange forsøg",
    "Too many attempts in a short time. Wait a minute and try again.":
        "For mange forsøg på kort tid. Vent et minut, og prøv igen.",
    "Not found": "Ikke fundet",
    "There is nothing here, or you may not see it.": "Der er intet her, eller du må ikke se det.",
    "Not allowed": "Ikke tilladt",
    "The form has expired or was not sent from this site. Reload the page and try again.":
        "Formularen er udløbet eller ikke sendt fra denne side. Genindlæs siden, og prøv igen.",
    "Bad request": "Ugyldig forespørgsel",
    "Conflict": "Konflikt",
    "Someone else saved the same thing meanwhile. Reload and try again.":
        "En anden har gemt det samme imens. Genindlæs og prøv igen.",
    "Someone changed this ticket meanwhile. The page now shows the latest version: check it "
    "and try again.": "En anden har ændret sagen imens. Siden viser nu den nyeste udgave: "
    "tjek den, og prøv igen.",
    "Back to the start page": "Tilbage til forsiden",
    "Please correct the marked fields.": "Ret venligst de markerede felter.",
    "Error:": "Fejl:",
    "This field is required.": "Feltet skal udfyldes.",
    "Choose one of the listed values.": "Vælg en af de viste værdier.",
    # portal
    "System": "System",
    "Environment": "Miljø",
    "Layer": "Lag",
    "Title": "Titel",
    "Description": "Beskrivelse",
    "Impact": "Påvirkning",
    "Urgency": "Hast",
    "Outage": "Nedbrud",
    "The system is down (nobody can use it)": "Systemet er nede (ingen kan bruge det)",
    "Where is the problem, if you know?": "Hvor ligger fejlen, hvis du ved det?",
    "If you are unsure, choose \"don't know\": our service desk will find out.":
        "Er du i tvivl, så vælg \"ved ikke\": vores servicedesk finder ud af det.",
    "don't know": "ved ikke",
    "the application itself": "selve applikationen",
    "its database or server software": "dens database eller serversoftware",
    "the server's operating system": "serverens styresystem",
    "hardware, storage or network": "hardware, lager eller netværk",
    "Many people or a whole service": "Mange brugere eller en hel tjeneste",
    "A group of people or part of a service": "En gruppe brugere eller en del af en tjeneste",
    "One person or a small part": "En enkelt bruger eller en lille del",
    "Work has stopped: it must be fixed now": "Arbejdet står stille: skal løses nu",
    "Work is hampered: fix it today": "Arbejdet er besværet: løs det i dag",
    "It can wait a few days": "Det kan vente nogle dage",
    "How many are affected?": "Hvor mange er ramt?",
    "How soon must it be fixed?": "Hvor hurtigt skal det løses?",
    "Short summary, e.g. \"Map tiles do not load\"": "Kort resumé, fx \"Kortfliser indlæses ikke\"",
    "What happened, when, and what you expected.": "Hvad skete der, hvornår, og hvad forventede du.",
    "Send incident": "Send fejlmelding",
    "Choose a system": "Vælg et system",
    "Choose an environment": "Vælg et miljø",
    "Incident %(number)s is registered.": "Fejlmelding %(number)s er registreret.",
    "Your organisation has no systems registered yet.":
        "Din organisation har endnu ingen registrerede systemer.",
    # staff raise tickets from the workspace (/agent/new/...)
    "New incident": "Ny hændelse",
    "New problem": "Nyt problem",
    "New change": "Ny ændring",
    "Log an incident": "Registrér en hændelse",
    "Log incident": "Registrér hændelse",
    "No systems are registered that you may see.": "Der er ingen registrerede systemer, du kan se.",
    "Leave it at \"don't know\" if unsure: SIT's service desk triages it.":
        "Lad det stå på \"ved ikke\", hvis du er i tvivl: SIT's servicedesk visiterer den.",
    "Open a problem": "Opret et problem",
    "Open problem": "Opret problem",
    "The incidents it groups: their numbers, separated by commas or spaces (may be left empty).":
        "De hændelser, det samler: deres numre adskilt af komma eller mellemrum (kan være tomt).",
    "What the incidents have in common, and what is known of the cause.":
        "Hvad hændelserne har til fælles, og hvad man ved om årsagen.",
    "Problem %(number)s is registered.": "Problem %(number)s er registreret.",
    "Not an incident number: %(numbers)s.": "Ikke et hændelsesnummer: %(numbers)s.",
    "Raise a change": "Opret en ændring",
    "Raise change": "Opret ændring",
    "Change %(number)s is registered.": "Ændring %(number)s er registreret.",
    "Change type": "Ændringstype",
    "Standard (pre-approved)": "Standard (forhåndsgodkendt)",
    "Normal (needs approval)": "Normal (skal godkendes)",
    "Emergency": "Akut",
    "Template": "Skabelon",
    "None": "Ingen",
    "A standard change from a template: its layer, title and description come from the template "
    "where left empty.":
        "En standardændring fra en skabelon: lag, titel og beskrivelse hentes fra skabelonen, hvor "
        "de er tomme.",
    "from the template": "fra skabelonen",
    "Other affected layers": "Andre berørte lag",
    "their accountable party approves too": "deres ansvarlige part godkender også",
    "What will be done, why, and how it is rolled back.":
        "Hvad der skal gøres, hvorfor, og hvordan det rulles tilbage.",
    "Planned start": "Planlagt start",
    "Planned end": "Planlagt slut",
    "Times are local time (%(zone)s).": "Tidspunkter er lokal tid (%(zone)s).",
    # the change and problem services' field messages, as the forms show them
    "Must be after planned_start.": "Skal ligge efter den planlagte start.",
    "An ISO 8601 date-time with offset.": "Et tidspunkt (dato og klokkeslæt).",
    "Give an offset, e.g. +01:00.": "Angiv en tidszone, fx +01:00.",
    "Must be one of: standard, normal, emergency.": "Skal være standard, normal eller akut.",
    "A change from a template is a standard change.":
        "En ændring fra en skabelon er en standardændring.",
    "No such template.": "Ingen sådan skabelon.",
    # change rules of QA round 6 (services/changes.py)
    "None (a normal or emergency change)": "Ingen (en normal eller akut ændring)",
    "A standard change is pre-approved by its template: choose one, or raise a normal change.":
        "En standardændring er forhåndsgodkendt af sin skabelon: vælg en, eller opret en normal "
        "ændring.",
    "The planned window is over already.": "Det planlagte vindue er allerede slut.",
    "The planned window has started already.": "Det planlagte vindue er allerede begyndt.",
    "Implemented before its planned window.": "Gennemført før sit planlagte vindue.",
    "Implemented after its planned window.": "Gennemført efter sit planlagte vindue.",
    "The system belongs to another customer.": "Systemet tilhører en anden kunde.",
    "Nobody is responsible (R) for this activity on this layer.":
        "Ingen er udførende (R) for denne aktivitet på dette lag.",
    "Incidents and problems have workflows of their own: not a change's activity.":
        "Hændelser og problemer har deres egne arbejdsgange: ikke en aktivitet for en ændring.",
    "A consultation on this stage is open already.": "Der er allerede en åben høring om denne fase.",
    "A change is rescheduled before its implementation starts.":
        "En ændring flyttes, før dens gennemførelse begynder.",
    "The window is unchanged: give a new start or end.":
        "Vinduet er uændret: angiv en ny start eller slut.",
    "The window is unchanged.": "Vinduet er uændret.",
    "The new window has invalid fields.": "Det nye vindue har ugyldige felter.",
    "A list of incident ids.": "En liste af hændelser.",
    "A list of layer names.": "En liste af lag.",
    "Control characters are not allowed.": "Kontroltegn er ikke tilladt.",
    "Invisible characters are not allowed.": "Usynlige tegn er ikke tilladt.",
    "Only agents and managers open problems and changes.":
        "Kun medarbejdere og ledere opretter problemer og ændringer.",
    "Tickets": "Sager",
    "Number": "Nummer",
    "Status": "Status",
    "Priority": "Prioritet",
    "Who has the ball": "Hvem har bolden",
    "Updated": "Opdateret",
    "No tickets yet.": "Ingen sager endnu.",
    "You: please confirm the solution": "Dig: bekræft venligst løsningen",
    "You: we need your answer": "Dig: vi mangler dit svar",
    "Done": "Afsluttet",
    "SIT service desk": "SIT's servicedesk",
    "Your IT team": "Jeres IT-team",
    "The supplier": "Leverandøren",
    "More": "Flere",
    # agent
    "Queues": "Køer",
    "Triage": "Triage",
    "My party's open work": "Mit holds åbne sager",
    "Assigned to me": "Tildelt mig",
    "Waiting": "Venter",
    "Waiting for us": "Venter på os",
    "After hours / paged": "Uden for arbejdstid / kaldt",
    "SLA breached or at risk": "SLA overskredet eller i fare",
    "All open": "Alle åbne",
    "Search": "Søg",
    "Search title or number": "Søg titel eller nummer",
    "Filter": "Filtrér",
    "Clear": "Nulstil",
    "Any": "Alle",
    "Unknown": "Ukendt",
    "State": "Tilstand",
    "Assignee": "Sagsbehandler",  # not "Ansvarlig": that is the responsible party
    "Me": "Mig",
    "Nobody": "Ingen",
    "SLA due": "SLA-frist",
    "breached": "overskredet",
    "at risk": "i fare",
    "paused": "sat på pause",
    "Nothing in this queue.": "Intet i denne kø.",
    "Next page": "Næste side",
    "First page": "Første side",
    "Select": "Vælg",
    "Select all": "Vælg alle",
    "Assign selected to": "Tildel valgte til",
    "Assign": "Tildel",
    "Myself": "Mig selv",
    "Keyboard": "Tastatur",
    "j/k move, Enter opens, x selects, / searches": "j/k flytter, Enter åbner, x vælger, / søger",
    "%(ok)d assigned.": "%(ok)d tildelt.",
    "Not assigned: %(tickets)s.": "Ikke tildelt: %(tickets)s.",
    # stale forms and duplicate names (qa6)
    "Someone changed it after the queue was shown: open it and check":
        "En anden har ændret den, efter køen blev vist: åbn den, og tjek den",
    "Another admin saved this system after you opened the form. The form now shows the saved "
    "values: make your change again.":
        "En anden administrator har gemt systemet, efter du åbnede formularen. Formularen viser "
        "nu de gemte værdier: lav din ændring igen.",
    "Another admin saved these levels after you opened the form. The form now shows the saved "
    "levels: make your change again.":
        "En anden administrator har gemt niveauerne, efter du åbnede formularen. Formularen "
        "viser nu de gemte niveauer: lav din ændring igen.",
    "Already exists.": "Findes allerede.",
    "Another system has this name.": "Et andet system har dette navn.",
    "No user name or password in the address: put secrets in the hook's signing secret or "
    "routing key.":
        "Intet brugernavn eller adgangskode i adressen: læg hemmeligheder i hookens "
        "signeringsnøgle eller routing-nøgle.",
    "Change your own password on your account page.":
        "Skift din egen adgangskode på din kontoside.",
    "Select at least one ticket.": "Vælg mindst én sag.",
    "Updated automatically every 30 seconds.": "Opdateres automatisk hvert 30. sekund.",
    # ticket
    "Details": "Detaljer",
    "Reported by": "Meldt af",
    "Created": "Oprettet",
    "Responsible": "Ansvarlig part",
    # QA round 6 (notes/qa6-ui.md L7, L10): the parties, the organisation kinds, refusals
    "Supplier": "Leverandør",
    "supplier": "leverandør",
    "the supplier": "leverandøren",
    "Layer %(layer)s is owned by %(party)s.": "Laget %(layer)s ejes af %(party)s.",
    "Previous resolution": "Tidligere løsning",
    "Duplicates.": "Dubletter.",
    "Unknown language.": "Ukendt sprog.",
    "Must be en or da.": "Skal være en eller da.",
    "That page link is not valid: showing the first page.":
        "Sidelinket er ikke gyldigt: første side vises.",
    "Must be P1 to P5.": "Skal være P1 til P5.",
    "Must be a layer or unknown.": "Skal være et lag eller ukendt.",
    "me, none or a user id.": "me, none eller et bruger-id.",
    "Accountable": "Godkendende part",
    "Resolution": "Løsning",
    "Timeline": "Forløb",
    "Actions": "Handlinger",
    "No actions for you in this state.": "Ingen handlinger for dig i denne tilstand.",
    "Comment": "Kommentar",
    "Add comment": "Tilføj kommentar",
    "Who does what (RACI)": "Hvem gør hvad (RACI)",
    "Activity": "Aktivitet",
    "customer": "kunde",
    "provider": "SIT",
    "Responsible (works it)": "Udfører (R)",
    "Accountable (approves, closes)": "Godkender (A)",
    "Consulted": "Høres (C)",
    "Informed": "Informeres (I)",
    "only on errors and deviations": "kun ved fejl og afvigelser",
    "only when the customer asks for it": "kun når kunden beder om det",
    "Not yet classified: SIT's service desk triages it.":
        "Endnu ikke klassificeret: SIT's servicedesk visiterer den.",
    "Layer %(layer)s is owned by the %(party)s.": "Laget %(layer)s ejes af %(party)s.",
    "created the ticket": "oprettede sagen",
    "commented": "kommenterede",
    "handed over from %(a)s to %(b)s": "overdrog fra %(a)s til %(b)s",
    "system": "system",
    "After hours": "Uden for arbejdstid",
    "Outage reported": "Nedbrud meldt",
    "yes": "ja",
    "no": "nej",
    "Send": "Send",
    "Cancel": "Annullér",
    "unassigned": "ikke tildelt",
    "Assign to me": "Tildel mig",
    # the ticket page (details)
    "Consultations": "Høringer",
    "asked": "spurgt",
    "asked by %(who)s": "spurgt af %(who)s",
    "Your answer is needed: use “Answer consultation” under Actions.":
        "Dit svar er nødvendigt: brug “Besvar høring” under Handlinger.",
    "Awaiting an answer from: %(party)s.": "Afventer svar fra: %(party)s.",
    "The change": "Ændringen",
    "template": "skabelon",
    "Affected layers": "Berørte lag",
    "Approvals": "Godkendelser",
    "approved by %(who)s": "godkendt af %(who)s",
    "approval pending": "afventer godkendelse",
    "no approval recorded": "ingen godkendelse registreret",
    "%(step)s waits for the consultation of: %(parties)s.":
        "%(step)s afventer høring af: %(parties)s.",
    "%(step)s waits for %(asker)s to ask %(parties)s for consultation (“%(action)s”).":
        "%(step)s afventer, at %(asker)s beder %(parties)s om høring („%(action)s“).",
    "Overlaps %(number)s (%(title)s): from %(start)s to %(end)s.":
        "Overlapper %(number)s (%(title)s): fra %(start)s til %(end)s.",
    "In the freeze period %(name)s: from %(start)s to %(end)s.":
        "I frysperioden %(name)s: fra %(start)s til %(end)s.",
    "Not found yet.": "Endnu ikke fundet.",
    "None recorded yet.": "Ingen registreret endnu.",
    "Linked incidents": "Tilknyttede hændelser",
    "None.": "Ingen.",
    "Problems": "Problemer",
    "It was due %(when)s.": "Fristen var %(when)s.",
    "Approved as: %(party)s.": "Godkendt som: %(party)s.",
    "missed the response target": "overskred svarfristen",
    "missed the resolution target": "overskred løsningsfristen",
    # admin
    "Organisations": "Organisationer",
    "Users": "Brugere",
    "Systems": "Systemer",
    "Tokens": "Nøgler",
    "Workflows": "Arbejdsgange",
    "Name": "Navn",
    "Kind": "Type",
    "Role": "Rolle",
    "Organisation": "Organisation",
    "Create": "Opret",
    "Created.": "Oprettet.",
    "Key": "Nøgle",
    "Customer": "Kunde",
    "Environments": "Miljøer",
    "comma separated, e.g. production, test": "kommasepareret, fx production, test",
    "Vagtordning (after-hours on-call)": "Vagtordning (vagt uden for arbejdstid)",
    "Load balancer": "Load balancer",
    "Dedicated physical servers": "Dedikerede fysiske servere",
    "Suppliers": "Leverandører",
    "Options": "Tilvalg",
    "Edit": "Redigér",
    "New API token for %(email)s — copy it now, it is shown only once:":
        "Ny API-nøgle til %(email)s — kopiér den nu, den vises kun én gang:",
    "Revoke": "Tilbagekald",
    "revoked": "tilbagekaldt",
    "active": "aktiv",
    "Last used": "Senest brugt",
    "Token name": "Nøglens navn",
    "User": "Bruger",
    "Create token": "Opret nøgle",
    "State diagram": "Tilstandsdiagram",
    "States": "Tilstande",
    "Transitions": "Overgange",
    "Who may": "Hvem må",
    "never": "aldrig",
    "level": "niveau",
    "paging": "vagtkald",
    "page": "vagt kaldt",
    "page failed": "vagtkald fejlede",
    "escalated": "eskaleret",
    "sla breach": "SLA overskredet",
    "linked": "knyttet til problem",
    "unlinked": "fjernet fra problem",
    "pager event": "svar fra vagtsystem",
    "outage corrected": "nedbrud rettet",
    # the pager's lines in the timeline (templates/ticket.html, ticket/_event.html)
    "paged %(hook)s": "kaldte vagten via %(hook)s",
    "told pager %(hook)s: acknowledged": "meddelte personsøger %(hook)s: kvitteret",
    "told pager %(hook)s: resolved": "meddelte personsøger %(hook)s: løst",
    "could not page %(hook)s": "kunne ikke kalde vagten via %(hook)s",
    "could not tell pager %(hook)s: acknowledged":
        "kunne ikke meddele personsøger %(hook)s: kvitteret",
    "could not tell pager %(hook)s: resolved": "kunne ikke meddele personsøger %(hook)s: løst",
    "pager %(hook)s asked to acknowledge": "personsøger %(hook)s bad om at kvittere",
    "pager %(hook)s asked to resolve": "personsøger %(hook)s bad om at løse",
    "not applied": "ikke udført",
    "via pager %(hook)s": "via personsøger %(hook)s",
    "On call: %(person)s": "Vagthavende: %(person)s",
    "nobody on call": "ingen har vagten",
    # the access log's actions (templates/reports/access_log.html), the report's durations
    "Signed in": "Logget ind",
    "Signed out": "Logget ud",
    "Failed sign-in": "Mislykket log ind",
    "API token used": "API-nøgle brugt",
    "API token refused": "API-nøgle afvist",
    "Ticket read": "Sag læst",
    "Export": "Eksport",
    "Admin action": "Administratorhandling",
    "Permission refused": "Adgang nægtet",
    "Report read": "Rapport læst",
    "Access log read": "Adgangslog læst",
    "email": "e-mail",
    "%(hours)s h %(minutes)s min": "%(hours)s t %(minutes)s min",
    "%(days)s d %(hours)s h": "%(days)s d %(hours)s t",
    # why a ticket is or is not paged (domain/paging.py, services/paging.py)
    "only incidents page": "kun fejl kalder vagten",
    "no vagtordning: waits for the next working day":
        "ingen vagtordning: venter til næste arbejdsdag",
    "working time: the queue has it": "arbejdstid: køen har den",
    "already acknowledged": "allerede kvitteret",
    "the previous level could not be paged": "det forrige niveau kunne ikke kaldes",
    "Missing data for required field.": "Feltet skal udfyldes.",
    "No such system.": "Intet sådant system.",
    "Must be 1 (high), 2 or 3 (low).": "Skal være 1 (høj), 2 eller 3 (lav).",
    "Reclassify layer": "Omklassificér lag",
    "Change priority": "Skift prioritet",
    "acknowledgement cleared": "kvittering nulstillet",
    "An acknowledgement belongs to the party whose on-call gave it: the party that now has the "
    "ticket has not acknowledged it.": "En kvittering gælder for den part, hvis vagt gav den: "
    "den part, der nu har sagen, har ikke kvitteret for den.",
    "Start work": "Start arbejdet",
    "Acknowledge": "Kvittér",
    "Wait for customer": "Vent på kunden",
    "Wait for supplier": "Vent på leverandøren",
    "Resume work": "Genoptag arbejdet",
    "Customer answered": "Kunden har svaret",
    "Your answer": "Dit svar",
    "Resolve": "Løs",
    "Confirm resolution": "Bekræft løsningen",
    "Reject resolution": "Afvis løsningen",
    "Reopen": "Genåbn",
    "Close": "Luk",
    "Why": "Hvorfor",
    "What we need": "Hvad vi har brug for",
    "What we wait for": "Hvad vi venter på",
    "What is still wrong": "Hvad er stadig galt",
    "New": "Ny",
    "Assigned": "Tildelt",
    "In progress": "I gang",
    "Waiting for customer": "Venter på kunden",
    "Waiting for supplier": "Venter på leverandøren",
    "Resolved": "Løst",
    "Closed": "Lukket",
    "Cancelled": "Annulleret",
    # the workflows (workflows/*.yaml stay English): states, actions, fields and their choices;
    # tests/web/test_i18n.py fails when a label there has no entry here
    "Assessment": "Vurdering",
    "Awaiting approval": "Afventer godkendelse",
    "Approved": "Godkendt",
    "Installation test": "Installationsprøve",
    "Acceptance test": "Overtagelsesprøve",
    "Operational test": "Driftsprøve",
    "Installing in production": "Installeres i produktion",
    "Review": "Evaluering",
    "Rejected": "Afvist",
    "Investigating": "Undersøges",
    "Known error": "Kendt fejl",
    "Fulfilled": "Udført",
    "Schedule standard change": "Planlæg standardændring",
    "Authorise emergency change": "Godkend akut ændring",
    "Why it cannot wait": "Hvorfor det ikke kan vente",
    "Start assessment": "Start vurdering",
    "Request approval": "Anmod om godkendelse",
    "Risk": "Risiko",
    "Impact assessment": "Konsekvensvurdering",
    "Approve": "Godkend",
    "Reject": "Afvis",
    "Ask for consultation": "Bed om høring",
    "Stage": "Fase",
    "Question": "Spørgsmål",
    "Answer consultation": "Besvar høring",
    "Answer": "Svar",
    "Start installation test": "Start installationsprøve",
    "Start acceptance test": "Start overtagelsesprøve",
    "Start operational test": "Start driftsprøve",
    "Install in production": "Installér i produktion",
    "Start the change window": "Start ændringsvinduet",
    "Install now (emergency)": "Installér nu (akut)",
    "Record outcome": "Registrér udfald",
    "Outcome": "Udfald",
    "Notes": "Noter",
    "Close after review": "Luk efter evaluering",
    "Review notes": "Evalueringsnoter",
    "Start investigation": "Start undersøgelse",
    "Record known error": "Registrér kendt fejl",
    "Root cause": "Grundårsag",
    "Fulfil": "Udfør",
    "What was done": "Hvad der blev gjort",
    "Reject request": "Afvis anmodningen",
    "Confirm": "Bekræft",
    "low": "lav",
    "medium": "middel",
    "high": "høj",
    "successful": "gennemført",
    "failed": "fejlet",
    "backed out": "rullet tilbage",
    "installation test": "installationsprøve",
    "acceptance test": "overtagelsesprøve",
    "operational test": "driftsprøve",
    "installation in production": "installation i produktion",
    "design": "design",
    "documentation": "dokumentation",
    "ongoing development": "løbende udvikling",
    # the activities of the RACI matrix (config/raci.yaml)
    "Ownership": "Ejerskab",
    "Licence (lifecycle management)": "Licens (livscyklusstyring)",
    "Operations responsibility (overall)": "Driftsansvar (overordnet)",
    "Maintenance responsibility (overall)": "Vedligeholdelsesansvar (overordnet)",
    "Support and service desk": "Support og servicedesk",
    "Patch management": "Patchhåndtering",
    "Security handling": "Sikkerhedshåndtering",
    "Administrative access, prod/pre-prod": "Administrativ adgang, prod/præprod",
    "User access, prod/pre-prod": "Brugeradgang, prod/præprod",
    "Backup": "Backup",
    "Restore": "Genskabelse",
    "Monitoring": "Overvågning",
    "Capacity management": "Kapacitetsstyring",
    "Configuration management": "Konfigurationsstyring",
    "Incident management": "Hændelseshåndtering",
    "Problem management": "Problemhåndtering",
    "Change management": "Ændringshåndtering",
    "Performance management": "Ydelsesstyring",
    "Ongoing development of the solution": "Løbende udvikling af løsningen",
    "Design of the solution": "Design af løsningen",
    "Documentation": "Dokumentation",
    "Installation in production": "Installation i produktion",
    "Installation test (installationsprøve)": "Installationsprøve",
    "Acceptance test (overtagelsesprøve)": "Overtagelsesprøve",
    "Operational test (driftsprøve)": "Driftsprøve",
    # the services' plain messages, as flashes, field errors and error pages show them
    "Invalid filters.": "Ugyldige filtre.",
    "No such user.": "Ingen sådan bruger.",
    "Unknown user.": "Ukendt bruger.",
    "No such ticket.": "Ingen sådan sag.",
    "No such customer.": "Ingen sådan kunde.",
    "Unknown layer.": "Ukendt lag.",
    "Unknown queue.": "Ukendt kø.",
    "Unknown system.": "Ukendt system.",
    "Unknown environment for this system.": "Ukendt miljø for dette system.",
    "Not a valid cursor.": "Ikke en gyldig sidemarkør.",
    "Use the next page link.": "Brug linket til næste side.",
    "Not a valid email address.": "Ikke en gyldig e-mailadresse.",
    "The password is too short.": "Adgangskoden er for kort.",
    "The password is too long.": "Adgangskoden er for lang.",
    "Resolve the problem first.": "Løs problemet først.",
    "The problem is closed; open a new one.": "Problemet er lukket; opret et nyt.",
    "The incident is linked to this problem already.":
        "Hændelsen er allerede knyttet til dette problem.",
    "The incident is not linked to this problem.": "Hændelsen er ikke knyttet til dette problem.",
    "The incident belongs to another customer.": "Hændelsen tilhører en anden kunde.",
    "The ticket given is not an incident.": "Den angivne sag er ikke en hændelse.",
    "Not an incident.": "Ikke en hændelse.",
    "The ticket is not a problem.": "Sagen er ikke et problem.",
    "Not a problem.": "Ikke et problem.",
    "The layer is unchanged: choose another layer.": "Laget er uændret: vælg et andet lag.",
    "an incident you cannot see": "en hændelse, du ikke kan se",
    "a problem you cannot see": "et problem, du ikke kan se",
    "Admins do not comment on tickets.": "Administratorer kommenterer ikke sager.",
    # refusals of a trigger without values (domain/access.py; the others are in DA_PATTERNS)
    "This change already has your approval.": "Ændringen er allerede godkendt af dig.",
    "No consultation of yours is open on this ticket.":
        "Der er ingen åben høring af dig på denne sag.",
    "Admins configure itilflow; they do not work tickets.":
        "Administratorer konfigurerer itilflow; de arbejder ikke med sager.",
    "Admins configure itilflow; they do not raise incidents.":
        "Administratorer konfigurerer itilflow; de melder ikke fejl.",
    "This ticket is already acknowledged.": "Sagen er allerede kvitteret.",
    "waiting (SLA paused): paging is decided when work resumes":
        "venter (SLA sat på pause): om der skal kaldes vagt, afgøres, når arbejdet genoptages",
    "The ticket was handed over: this pager's party no longer has it.":
        "Sagen er overdraget: denne personsøgers part har den ikke længere.",
    "the customer": "kunden",
    "the provider (SIT)": "SIT",
    "Only an admin may do this.": "Kun en administrator må gøre dette.",
    "Reporters and suppliers have no inbox: follow your tickets instead.":
        "Anmeldere og leverandører har ingen indbakke: følg jeres sager i stedet.",
    "The ticket was changed by someone else meanwhile. Reload and try again.":
        "Sagen er ændret af en anden imens. Genindlæs, og prøv igen.",
    "Impact and urgency must be 1 (high) to 3 (low).":
        "Påvirkning og hast skal være 1 (høj) til 3 (lav).",
    "A list of notification ids.": "En liste af beskeder.",
    "Must be a whole number.": "Skal være et helt tal.",
    "Not a valid integer.": "Ikke et gyldigt heltal.",
    "Not a valid string.": "Ikke en gyldig tekst.",
    "Field may not be null.": "Feltet må ikke være tomt.",
    # month abbreviations of dates (strftime's %b is English whatever the locale)
    "Jan": "jan.", "Feb": "feb.", "Mar": "mar.", "Apr": "apr.", "May": "maj", "Jun": "jun.",
    "Jul": "jul.", "Aug": "aug.", "Sep": "sep.", "Oct": "okt.", "Nov": "nov.", "Dec": "dec.",
    # error pages
    "Method not allowed": "Metoden er ikke tilladt",
    "This address does not take that kind of request. Go back and use the page's own links "
    "and buttons.": "Denne adresse tager ikke imod den slags forespørgsler. Gå tilbage, og "
    "brug sidens egne links og knapper.",
    "Too large": "For stor",
    "Go to %(page)s": "Gå til %(page)s",
    "What you sent is larger than %(limit)s. Shorten it and try again.":
        "Det, du sendte, er større end %(limit)s. Gør det kortere, og prøv igen.",
    "The form contained a character that is not allowed (a NUL character). Go back with the "
    "browser's Back button, where the form still holds what you typed, remove it and send the "
    "form again.": "Formularen indeholdt et tegn, der ikke er tilladt (et NUL-tegn). Gå tilbage "
    "med browserens Tilbage-knap, hvor formularen stadig har det, du skrev, fjern tegnet, og "
    "send formularen igen.",
    "The request could not be read.": "Forespørgslen kunne ikke læses.",
    # the notifications inbox: messages are rendered when they are read (services/notifications)
    "%(ticket)s was raised by %(actor)s; it is now %(state)s.":
        "%(ticket)s er oprettet af %(actor)s; den er nu %(state)s.",
    "%(ticket)s was raised; it is now %(state)s.": "%(ticket)s er oprettet; den er nu %(state)s.",
    "%(ticket)s: %(actor)s chose \"%(action)s\"; it is now %(state)s.":
        "%(ticket)s: %(actor)s valgte \"%(action)s\"; den er nu %(state)s.",
    "%(ticket)s: \"%(action)s\"; it is now %(state)s.":
        "%(ticket)s: \"%(action)s\"; den er nu %(state)s.",
    "%(ticket)s breached its %(target)s target; it is now %(state)s.":
        "%(ticket)s har overskredet sin frist for %(target)s; den er nu %(state)s.",
    "%(ticket)s breached its SLA; it is now %(state)s.":
        "%(ticket)s har overskredet sin SLA; den er nu %(state)s.",
    "%(ticket)s: %(actor)s answered your question: \"%(comment)s\" It is still %(state)s until "
    "you resume work.":
        "%(ticket)s: %(actor)s har svaret på jeres spørgsmål: \"%(comment)s\" Den er stadig "
        "%(state)s, indtil I genoptager arbejdet.",
    "%(actor)s is waiting for your answer on %(ticket)s: \"%(comment)s\"":
        "%(actor)s venter på jeres svar på %(ticket)s: \"%(comment)s\"",
    "%(actor)s is waiting for your answer on %(ticket)s.":
        "%(actor)s venter på jeres svar på %(ticket)s.",
    "Answer with a comment on the ticket.": "Svar med en kommentar på sagen.",
    "%(ticket)s: %(actor)s answered your question: \"%(comment)s\" It is %(state)s again.":
        "%(ticket)s: %(actor)s har svaret på jeres spørgsmål: \"%(comment)s\" Den er %(state)s "
        "igen.",
    "%(ticket)s was handed over to your organisation by %(actor)s (\"%(action)s\"): it now "
    "works it.":
        "%(ticket)s er overdraget til jeres organisation af %(actor)s (\"%(action)s\"): I "
        "arbejder nu på den.",
    "%(ticket)s was handed over from %(from_party)s to %(to_party)s by %(actor)s "
    "(\"%(action)s\").":
        "%(ticket)s er overdraget fra %(from_party)s til %(to_party)s af %(actor)s "
        "(\"%(action)s\").",
    "Comment: \"%(comment)s\"": "Kommentar: \"%(comment)s\"",
    "%(ticket)s: %(actor)s changed the priority from %(from_priority)s to %(priority)s; the SLA "
    "targets follow the new priority.":
        "%(ticket)s: %(actor)s har ændret prioriteten fra %(from_priority)s til %(priority)s; "
        "SLA-fristerne følger den nye prioritet.",
    "%(ticket)s: %(actor)s changed the impact and urgency; the priority stays %(priority)s.":
        "%(ticket)s: %(actor)s har ændret påvirkning og hast; prioriteten er stadig %(priority)s.",
    "impact and urgency changed, priority %(priority)s":
        "påvirkning og hast ændret, prioritet %(priority)s",
    "Why: \"%(comment)s\"": "Hvorfor: \"%(comment)s\"",
    "%(ticket)s was handed over to %(customer)s by %(actor)s (\"%(action)s\"): you work for it "
    "on %(system)s.":
        "%(ticket)s er overdraget til %(customer)s af %(actor)s (\"%(action)s\"): I arbejder "
        "for dem på %(system)s.",
    "%(ticket)s was raised by %(actor)s for %(customer)s, which works it (you work for it on "
    "%(system)s); it is now %(state)s.":
        "%(ticket)s er oprettet af %(actor)s til %(customer)s, som arbejder på den (I arbejder "
        "for dem på %(system)s); den er nu %(state)s.",
    "The priority is unchanged: give a new impact or urgency.":
        "Prioriteten er uændret: angiv en ny påvirkning eller hast.",
    "response": "reaktion",
    "resolution": "løsning",
    "%(ticket)s: %(actor)s asks your organisation (%(stage)s) and needs your answer: "
    "\"%(question)s\"":
        "%(ticket)s: %(actor)s spørger jeres organisation (%(stage)s) og har brug for jeres "
        "svar: \"%(question)s\"",
    "Answer it on the ticket with \"Answer consultation\".":
        "Svar på sagen med \"Besvar høring\".",
    "%(ticket)s: %(actor)s answered your consultation (%(stage)s): \"%(answer)s\" It is "
    "%(state)s.":
        "%(ticket)s: %(actor)s har besvaret jeres høring (%(stage)s): \"%(answer)s\" Den er "
        "%(state)s.",
    "%(ticket)s: %(actor)s asks your organisation to approve it; it is now %(state)s.":
        "%(ticket)s: %(actor)s beder jeres organisation om at godkende den; den er nu "
        "%(state)s.",
    "Approve or reject it on the ticket.": "Godkend eller afvis den på sagen.",
    "%(ticket)s: %(actor)s recorded the outcome: %(outcome)s; it is now %(state)s.":
        "%(ticket)s: %(actor)s har registreret udfaldet: %(outcome)s; den er nu %(state)s.",
    "%(ticket)s: the outcome was recorded: %(outcome)s; it is now %(state)s.":
        "%(ticket)s: udfaldet er registreret: %(outcome)s; den er nu %(state)s.",
    "Security alert: %(subject)s in %(minutes)s minutes (last at %(last_at)s).":
        "Sikkerhedsadvarsel: %(subject)s på %(minutes)s minutter (senest %(last_at)s).",
    "%(ticket)s was raised by %(actor)s for your organisation, which works it; it is now "
    "%(state)s.":
        "%(ticket)s er oprettet af %(actor)s til jeres organisation, som arbejder på den; den er "
        "nu %(state)s.",
    # notification mails: the subject says what happened (services/notifications.mail_subject)
    "Security alert: %(subject)s": "Sikkerhedsadvarsel: %(subject)s",
    "waiting for your answer": "venter på jeres svar",
    "asks for your answer": "beder om jeres svar",
    "window moved": "vinduet er flyttet",
    "%(ticket)s: %(actor)s moved the planned window to %(start)s - %(end)s; it is %(state)s.":
        "%(ticket)s: %(actor)s har flyttet det planlagte vindue til %(start)s - %(end)s; den er "
        "%(state)s.",
    "asks for your approval": "beder om jeres godkendelse",
    "outcome: %(outcome)s": "udfald: %(outcome)s",
    "answered": "besvaret",
    "SLA breached": "SLA overskredet",
    "raised": "oprettet",
    "raised for your organisation": "oprettet til jeres organisation",
    "handed over to your organisation": "overdraget til jeres organisation",
    "handed over to %(customer)s": "overdraget til %(customer)s",
    "raised for %(customer)s": "oprettet til %(customer)s",
    "priority %(from_priority)s → %(priority)s": "prioritet %(from_priority)s → %(priority)s",
    "handed over": "overdraget",
    # admin: paging, escalation, the access log tab
    "Paging": "Personsøgning",
    "Access log": "Adgangslog",
    "%(n)s min": "%(n)s min.",
    "%(n)s s": "%(n)s sek.",
    "Escalation saved: %(party)s.": "Eskalering gemt: %(party)s.",
    "Provider": "SIT",
    "Save the provider's levels": "Gem SIT's niveauer",
    "Save the customer's levels": "Gem kundens niveauer",
    "Pager hook %(name)s created.": "Personsøger-hook %(name)s er oprettet.",
    "Level %(level)s of %(ticket)s will be sent again to %(hook)s.":
        "Niveau %(level)s af %(ticket)s sendes igen til %(hook)s.",
    "After hours, urgent incidents on systems with vagtordning page the on-call people through "
    "these pager hooks. Which hooks are paged, in what order, is set per system under Systems.":
        "Uden for arbejdstid kalder hastende fejl på systemer med vagtordning den vagthavende "
        "gennem disse personsøger-hooks. Hvilke hooks der kaldes, og i hvilken rækkefølge, "
        "indstilles for hvert system under Systemer.",
    "Pager hook %(name)s created. Its signing secret — copy it into the pager now, it will not "
    "be shown again:":
        "Personsøger-hook %(name)s er oprettet. Dens signeringsnøgle — kopiér den ind i "
        "personsøgeren nu, den bliver ikke vist igen:",
    "Pager hooks": "Personsøger-hooks",
    "Address (URL)": "Adresse (URL)",
    "Format": "Format",
    "No pager hooks yet.": "Ingen personsøger-hooks endnu.",
    "Add a pager hook": "Tilføj en personsøger-hook",
    "Where the page is sent: http or https, private networks allowed. Redirects are not "
    "followed.":
        "Hvor kaldet sendes hen: http eller https, private netværk er tilladt. Omdirigeringer "
        "følges ikke.",
    "PagerDuty (Events API v2)": "PagerDuty (Events API v2)",
    "Generic (signed JSON)": "Generisk (signeret JSON)",
    "Routing key": "Routing-nøgle",
    "The PagerDuty integration key. Required for PagerDuty, optional otherwise.":
        "PagerDuty-integrationsnøglen. Skal udfyldes for PagerDuty, ellers valgfri.",
    "Signing secret (optional)": "Signeringsnøgle (valgfri)",
    "Leave empty to have one made for you: it is shown once, after you add the hook.":
        "Lad feltet stå tomt, så laves der en til dig: den vises én gang, når du har tilføjet "
        "hooken.",
    "Add pager hook": "Tilføj personsøger-hook",
    "Pages that could not be delivered": "Kald, der ikke kunne leveres",
    "The pager did not accept these pages after every attempt. Sending again uses the same "
    "message id, so a pager that got it after all drops the repeat.":
        "Personsøgeren tog ikke imod disse kald efter alle forsøg. Sendes de igen, bruges samme "
        "besked-id, så en personsøger, der alligevel fik kaldet, ser bort fra gentagelsen.",
    "Level": "Niveau",
    "Pager hook": "Personsøger-hook",
    "Attempts": "Forsøg",
    "Last answer": "Sidste svar",
    "Sent": "Sendt",
    "Send again": "Send igen",
    "None: every page was delivered.": "Ingen: alle kald er leveret.",
    "On-call schedules": "Vagtplaner",
    "A level of an escalation may name a schedule: its page then names the person on call. "
    "Schedules are made through the API (POST /api/v1/oncall-schedules).":
        "Et eskaleringsniveau kan pege på en vagtplan: kaldet nævner så den vagthavende. "
        "Vagtplaner oprettes gennem API'et (POST /api/v1/oncall-schedules).",
    "On call now": "Har vagten nu",
    "Rotation": "Rotation",
    "Time zone": "Tidszone",
    "nobody": "ingen",
    "every %(n)s week(s)": "hver %(n)s. uge",
    "calendar": "kalender",
    "%(n)s override(s)": "%(n)s undtagelse(r)",
    "No on-call schedules.": "Ingen vagtplaner.",
    "Escalation": "Eskalering",
    "Who is paged after hours, and after how long without an acknowledgement the next level is "
    "paged. Level 1 is paged at once. The provider's levels page for the operating system, "
    "infrastructure and a layer not yet known; the customer's for the application and "
    "middleware (where the customer has none, the provider's are paged).":
        "Hvem der kaldes uden for arbejdstid, og hvor længe der ventes på en kvittering, før "
        "næste niveau kaldes. Niveau 1 kaldes med det samme. SIT's niveauer kaldes for "
        "operativsystem, infrastruktur og et lag, der endnu ikke er kendt; kundens for "
        "applikation og middleware (har kunden ingen, kaldes SIT's).",
    "This system has no vagtordning: nothing is paged for it until it gets one.":
        "Systemet har ingen vagtordning: der kaldes ikke for det, før det får en.",
    "There are no pager hooks yet.": "Der er ingen personsøger-hooks endnu.",
    "Then wait": "Vent derefter",
    "On-call schedule": "Vagtplan",
    "No levels: nobody is paged.": "Ingen niveauer: ingen kaldes.",
    "Replace the levels": "Erstat niveauerne",
    "One row per level, in order. Rows without a pager hook are left out; leave them all empty "
    "to remove every level. The wait of the last level is not used.":
        "Én række pr. niveau, i rækkefølge. Rækker uden personsøger-hook udelades; lad dem alle "
        "stå tomme for at fjerne alle niveauer. Ventetiden på sidste niveau bruges ikke.",
    "Unit": "Enhed",
    "Pager hook of level %(n)s": "Personsøger-hook på niveau %(n)s",
    "(none)": "(ingen)",
    "Wait before the next level, level %(n)s": "Ventetid før næste niveau, niveau %(n)s",
    "Unit, level %(n)s": "Enhed, niveau %(n)s",
    "minutes": "minutter",
    "seconds": "sekunder",
    "On-call schedule of level %(n)s": "Vagtplan på niveau %(n)s",
    # the paging services' messages, shown next to the fields
    "The pager hook has invalid fields.": "Personsøger-hooken har ugyldige felter.",
    "The escalation policy has invalid fields.": "Eskaleringen har ugyldige felter.",
    "An http:// or https:// URL.": "En http://- eller https://-adresse.",
    "Must be one of: pagerduty, generic.": "Skal være pagerduty eller generic.",
    "A non-empty string of at most 200 characters.": "En tekst på 1 til 200 tegn.",
    "Required for the pagerduty format.": "Skal udfyldes for PagerDuty-formatet.",
    "Unknown field.": "Ukendt felt.",
    "No pager hook by that name.": "Ingen personsøger-hook med det navn.",
    "Without \"/\", and not \".\" or \"..\".": "Uden \"/\", og ikke \".\" eller \"..\".",
    "A whole number of seconds from 0 to 604800 (7 days).":
        "Et helt antal sekunder fra 0 til 604800 (7 dage).",
    "No on-call schedule by that name.": "Ingen vagtplan med det navn.",
    "Must be provider or customer.": "Skal være provider (SIT) eller customer (kunden).",
    "A list of at most 10 levels.": "Højst 10 niveauer.",
    "An object {hook, delay_seconds, schedule?}.": "Et niveau {hook, delay_seconds, schedule?}.",
    "Only a dead-lettered page can be sent again.":
        "Kun et kald, der ikke kunne leveres, kan sendes igen.",
    "No such page.": "Intet sådant kald.",
    "a secret is 'whsec_' followed by base64.": "en nøgle er 'whsec_' efterfulgt af base64.",
    "a secret's key is 16 to 128 bytes.": "en nøgle er 16 til 128 bytes.",
    "Caller": "Opkalder",
    "the email of the person the incident is for; empty: you":
        "e-mail på den, hændelsen gælder; tom: dig",
    "What happened, when, and what the caller expected.":
        "Hvad skete der, hvornår, og hvad forventede opkalderen.",
    "The email of an active user of the system's customer (or of SIT).":
        "E-mail på en aktiv bruger hos systemets kunde (eller hos SIT).",
    "Only agents and managers log an incident for someone else.":
        "Kun medarbejdere og ledere registrerer en hændelse for andre.",
    "Access": "Adgang",
    "Deactivate": "Deaktivér",
    "Reactivate": "Genaktivér",
    "Deactivate %(email)s": "Deaktivér %(email)s",
    "Reactivate %(email)s": "Genaktivér %(email)s",
    "%(email)s can no longer sign in: their sessions end and their API tokens are revoked.":
        "%(email)s kan ikke længere logge ind: sessionerne slutter, og API-nøglerne tilbagekaldes.",
    "Yes, deactivate": "Ja, deaktivér",
    "Yes, deactivate %(email)s": "Ja, deaktivér %(email)s",
    "Set a password for %(email)s": "Sæt en adgangskode for %(email)s",
    "Reporter": "Anmelder",
    "Customer agent": "Kundemedarbejder",
    "Customer manager": "Kundeleder",
    "Supplier agent": "Leverandørmedarbejder",
    "SIT agent": "SIT-medarbejder",
    "SIT manager": "SIT-leder",
    "Administrator": "Administrator",
    "deactivated": "deaktiveret",
    "you": "dig",
    "%(email)s can sign in again.": "%(email)s kan logge ind igen.",
    "%(email)s is deactivated: their sessions and API tokens no longer work.":
        "%(email)s er deaktiveret: sessioner og API-nøgler virker ikke længere.",
    "You cannot lock yourself out: another admin must do this.":
        "Du kan ikke låse dig selv ude: en anden administrator må gøre det.",
    "Secret": "Nøgle",
    "New secret": "Ny nøgle",
    "New secret for pager hook %(name)s": "Ny nøgle til personsøger-hook %(name)s",
    "Pager hook %(name)s has a new signing secret. Copy it into the pager now, it will not be "
    "shown again; until then the pager refuses new pages:":
        "Personsøger-hook %(name)s har fået en ny signeringsnøgle. Kopiér den ind i personsøgeren "
        "nu, den vises ikke igen; indtil da afviser personsøgeren nye kald:",
    "Pager hook %(name)s has a new signing secret. Copy it into the pager now, it will not be "
    "shown again. The old secret stays valid until %(until)s: pages carry both signatures and "
    "the pager may answer with either until then:":
        "Personsøger-hook %(name)s har fået en ny signeringsnøgle. Kopiér den ind i personsøgeren "
        "nu, den vises ikke igen. Den gamle nøgle gælder til %(until)s: kaldene bærer begge "
        "signaturer, og personsøgeren kan svare med den ene eller den anden indtil da:",
    "old secret valid until %(until)s": "gammel nøgle gælder til %(until)s",
    "retired": "udfaset",
    "Remove": "Fjern",
    "Remove pager hook %(name)s": "Fjern personsøger-hook %(name)s",
    "Pager hook %(name)s deleted.": "Personsøger-hook %(name)s er slettet.",
    "Pager hook %(name)s retired: it pages no more and its secret is no longer accepted; its "
    "pages stay in the history.":
        "Personsøger-hook %(name)s er udfaset: den kaldes ikke mere, og dens nøgle godtages ikke "
        "længere; dens kald bliver i historikken.",
    "This pager hook is retired.": "Denne personsøger-hook er udfaset.",
    "Set a password": "Sæt en adgangskode",
    "Set": "Sæt",
    "%(email)s has a new password; tell them in person, not by email.":
        "%(email)s har fået en ny adgangskode; sig den personligt, ikke på e-mail.",
    # the monthly report and the access log
    "Monthly report %(month)s": "Månedsrapport %(month)s",
    "Monthly standard report": "Månedlig standardrapport",
    "all customers": "alle kunder",
    "figures as of": "tal pr.",
    "generated": "dannet",
    "Month": "Måned",
    "All customers": "Alle kunder",
    "Show": "Vis",
    "To keep a PDF, print this page from the browser.": "Udskriv siden fra browseren for at gemme en PDF.",
    "incidents": "hændelser",
    "outages": "nedbrud",
    "median time to acknowledge": "median tid til kvittering",
    "median time to resolve (working time)": "median tid til løsning (arbejdstid)",
    "median time to acknowledge (wall clock)": "median tid til kvittering (kalendertid)",
    "median time to resolve (wall clock)": "median tid til løsning (kalendertid)",
    "That month has not begun.": "Den måned er ikke begyndt endnu.",
    "month must be written YYYY-MM.": "Måneden skrives ÅÅÅÅ-MM.",
    "month is out of range.": "Måneden ligger uden for det mulige.",
    "changes (%(n)s emergency)": "ændringer (%(n)s akutte)",
    "after-hours pages": "kald uden for arbejdstid",
    "Availability": "Tilgængelighed",
    "Service window": "Servicevindue",
    "Window": "Vindue",
    "Down": "Nede",
    "Outages": "Nedbrud",
    "Around the clock (vagtordning)": "Døgnet rundt (vagtordning)",
    "Working time": "Arbejdstid",
    ("Outages are incidents marked as outage, from the start to the end an agent recorded (or, uncorrected, "
     "from logging to resolution), counted once where they overlap and only inside the service window."):
        ("Nedbrud er hændelser markeret som nedbrud, fra den start til den slutning en medarbejder har "
         "registreret (eller, uden rettelse, fra registrering til løsning), talt én gang hvor de overlapper "
         "og kun inden for servicevinduet."),
    "No production systems.": "Ingen produktionssystemer.",
    "Incidents": "Hændelser",
    "Time to acknowledge and to resolve": "Tid til kvittering og til løsning",
    "Count": "Antal",
    "Mean (wall)": "Gennemsnit (kalendertid)",
    "Median (wall)": "Median (kalendertid)",
    "Mean (working)": "Gennemsnit (arbejdstid)",
    "Median (working)": "Median (arbejdstid)",
    "Time to acknowledge": "Tid til kvittering",
    "Time to resolve": "Tid til løsning",
    "SLA compliance": "SLA-overholdelse",
    "Response met": "Reaktion overholdt",
    "Response breached": "Reaktion overskredet",
    "Resolved in time": "Løst til tiden",
    "Resolution breached": "Løsning overskredet",
    "Still open": "Stadig åbne",
    "Compliance": "Overholdelse",
    "Hand-overs between the parties:": "Overdragelser mellem parterne:",
    "on %(n)s tickets; handed over more than once:": "på %(n)s sager; overdraget mere end én gang:",
    "Changes and problems": "Ændringer og problemer",
    "Standard changes": "Standardændringer",
    "Normal changes": "Normale ændringer",
    "Emergency changes": "Akutte ændringer",
    "Rejected or cancelled": "Afvist eller annulleret",
    "Problems opened": "Problemer oprettet",
    "Problems resolved": "Problemer løst",
    "Problems closed": "Problemer lukket",
    "Open known errors": "Åbne kendte fejl",
    "Known errors": "Kendte fejl",
    "Problem": "Problem",
    "Workaround": "Midlertidig løsning",
    "After-hours paging": "Kald uden for arbejdstid",
    "Pages sent:": "Sendte kald:",
    "for %(n)s incidents; acknowledged:": "for %(n)s hændelser; kvitteret:",
    "median time to acknowledge:": "median tid til kvittering:",
    ("Logins, failed logins, logouts, token use, reads of tickets, exports, admin actions and refusals. "
     "Append-only and hash-chained."):
        ("Log ind, mislykkede log ind, log ud, brug af nøgler, læsning af sager, eksport, "
         "administratorhandlinger og afvisninger. Kun tilføjelser, hash-kædet."),
    "Action": "Handling",
    "any": "alle",
    "Since": "Fra",
    "Until": "Til",
    "Target": "Mål",
    "Export CSV": "Eksportér CSV",
    "Verify the chain": "Kontrollér kæden",
    "%(n)s entries checked:": "%(n)s poster kontrolleret:",
    "%(n)s fault(s)": "%(n)s fejl",
    "chain intact": "kæden er intakt",
    "Address": "Adresse",
    "Request": "Forespørgsel",
    "Nothing logged that matches.": "Intet logget, der passer.",
    "Nothing logged.": "Intet logget.",
    "Older entries": "Ældre poster",
    "Application": "Applikation",
    "Middleware": "Middleware",
    "Operating system": "Operativsystem",
    "Infrastructure": "Infrastruktur",
    "Not yet known": "Endnu ukendt",
    "Successful": "Gennemført",
    "Failed": "Fejlet",
    "Backed out": "Rullet tilbage",
    "Pending": "Afventer",
    "Availability in the service window (%)": "Tilgængelighed i servicevinduet (%)",
    "Incidents by priority": "Hændelser efter prioritet",
    "Incidents by layer": "Hændelser efter lag",
    "Incidents by responsible party": "Hændelser efter ansvarlig part",
    "SIT (provider)": "SIT",
    "%(system)s (around the clock)": "%(system)s (døgnet rundt)",
    "%(system)s (working time)": "%(system)s (arbejdstid)",
    "n/a": "ingen",
    "Resolved within SLA, by priority (%)": "Løst inden for SLA, efter prioritet (%)",
    # the UI's forms for service requests, a problem's incidents, the CAB view, the change
    # calendar and rescheduling (web/raise_tickets.py, portal_requests.py, ticket_itsm.py,
    # change_pages.py)
    "What is needed": "Hvad er der brug for",
    "Choose what is needed": "Vælg, hvad der er brug for",
    "What is it for?": "Hvad gælder det?",
    "Ask SIT to do it": "Bed SIT om at gøre det",
    "Only for a restore of a database or server software, which the customer otherwise does "
    "itself.": "Kun ved genskabelse af en database eller serversoftware, som kunden ellers selv "
               "står for.",
    "What is needed, for whom, and by when.": "Hvad der er brug for, til hvem og hvornår.",
    "How soon is it needed?": "Hvor hurtigt er der brug for det?",
    "Raise a service request": "Opret en serviceanmodning",
    "Raise request": "Opret anmodning",
    "Ask for a service": "Bed om en ydelse",
    "A restore, a backup check, or administrative or user access.":
        "En genskabelse, et tjek af backup, eller administrativ adgang eller brugeradgang.",
    "Send request": "Send anmodning",
    "Request %(number)s is registered.": "Anmodning %(number)s er registreret.",
    "New request": "Ny anmodning",
    "The request has invalid fields.": "Anmodningen har ugyldige felter.",
    "Nobody else can be asked to do this.": "Ingen anden kan bedes om at gøre det.",
    "Admins configure itilflow; they do not raise requests.":
        "Administratorer konfigurerer itilflow; de opretter ikke anmodninger.",
    "Must be one of: restore, backup, administrative_access, user_access.":
        "Skal være en af: genskabelse, backup, administrativ adgang, brugeradgang.",
    "Not a boolean.": "Ikke en sandhedsværdi.",
    "Unlink %(number)s": "Fjern tilknytningen af %(number)s",
    "Unlink": "Fjern tilknytning",
    "Link an incident": "Knyt en hændelse til",
    "Its number, e.g. INC-000042.": "Dens nummer, f.eks. INC-000042.",
    "Link": "Knyt til",
    "Give an incident number, e.g. INC-000042.": "Angiv et hændelsesnummer, f.eks. INC-000042.",
    "There is no incident %(number)s that you may see.":
        "Der er ingen hændelse %(number)s, som du må se.",
    "%(incident)s is linked to this problem.": "%(incident)s er knyttet til dette problem.",
    "%(incident)s is no longer linked to this problem.":
        "%(incident)s er ikke længere knyttet til dette problem.",
    "Only the party working the problem or the incident links them.":
        "Kun den part, der arbejder på problemet eller hændelsen, knytter dem sammen.",
    "Not a ticket of the problem's customer.": "Ikke en sag hos problemets kunde.",
    "Link to a problem": "Knyt til et problem",
    "Known errors that may match": "Kendte fejl, der kan passe",
    "Link this incident to %(number)s": "Knyt hændelsen til %(number)s",
    "Already linked": "Allerede tilknyttet",
    "Its number, e.g. PRB-000042.": "Dets nummer, f.eks. PRB-000042.",
    "Give a problem number, e.g. PRB-000042.": "Angiv et problemnummer, f.eks. PRB-000042.",
    "There is no problem %(number)s that you may see.":
        "Der er intet problem %(number)s, som du må se.",
    "This incident is linked to %(problem)s.": "Hændelsen er knyttet til %(problem)s.",
    "This incident is no longer linked to %(problem)s.":
        "Hændelsen er ikke længere knyttet til %(problem)s.",
    "Resolve its incidents too": "Løs også dets hændelser",
    "optional": "valgfri",
    "Empty: \"Resolved by %(number)s\" and the problem's resolution.":
        "Tom: \"Løst af %(number)s\" og problemets løsning.",
    "Resolve the incidents": "Løs hændelserne",
    "No linked incidents that you may see.": "Ingen tilknyttede hændelser, som du må se.",
    "Resolved: %(numbers)s.": "Løst: %(numbers)s.",
    "Already resolved: %(numbers)s.": "Allerede løst: %(numbers)s.",
    "%(number)s is not resolved: %(reason)s": "%(number)s er ikke løst: %(reason)s",
    "Reschedule": "Flyt",
    "Why the window moves": "Hvorfor vinduet flyttes",
    "The change is rescheduled.": "Ændringen er flyttet.",
    "CAB view": "CAB-oversigt",
    "Change calendar": "Ændringskalender",
    "Changes": "Ændringer",
    "Changes awaiting approval or emergency authorisation that you may see, earliest window "
    "first.": "Ændringer, der afventer godkendelse eller akut godkendelse, og som du må se, "
              "tidligste vindue først.",
    "No change awaits approval.": "Ingen ændring afventer godkendelse.",
    "Planned window": "Planlagt vindue",
    "Awaiting": "Afventer",
    "Warnings": "Advarsler",
    "Emergency authorisation": "Akut godkendelse",
    "Approval": "Godkendelse",
    "You may approve it now": "Du kan godkende den nu",
    "From": "Fra",
    "To": "Til",
    "Also cancelled and rejected": "Også annullerede og afviste",
    "No change is planned in this period.": "Ingen ændring er planlagt i perioden.",
    "A date, e.g. 2026-12-01.": "En dato, f.eks. 2026-12-01.",
    "No such system that you may see.": "Intet sådant system, som du må se.",
    "Must be after start.": "Skal ligge efter start.",
    "end must be after start.": "Slut skal ligge efter start.",
    "The range is too long.": "Perioden er for lang.",
    "Changes by outcome": "Ændringer efter udfald",
}

#: Messages the services build with values in them (names, numbers, states): the English shape
#: as a pattern, the Danish text with the pattern's groups. A group named in ``_PART`` is
#: translated itself (a trigger becomes its label, a party "kunden"); any other is kept.
DA_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(english), danish) for english, danish in [
    (r"Must be one of: (?P<values>.+?)\.?", "Skal være en af: %(values)s."),
    (r"At most (?P<n>\d+) characters\.", "Højst %(n)s tegn."),
    (r"(?P<name>\w+) is out of range\.", "%(name)s er uden for det tilladte."),
    (r"A whole number from (?P<lo>-?\d+) to (?P<hi>-?\d+)\.",
     "Et helt tal fra %(lo)s til %(hi)s."),
    (r"A whole number of at least (?P<lo>-?\d+)\.", "Et helt tal på mindst %(lo)s."),
    (r"A whole number of at most (?P<hi>-?\d+)\.", "Et helt tal på højst %(hi)s."),
    (r"At most (?P<n>\d+) days after start\.", "Højst %(n)s dage efter start."),
    (r"'(?P<trigger>\w+)' is not possible while the (?P<kind>\w+) is (?P<state>.+)\.",
     "\"%(trigger)s\" er ikke muligt, mens sagen er %(state)s."),
    (r"'(?P<trigger>\w+)' is not possible in state '(?P<state>\w+)'\.",
     "\"%(trigger)s\" er ikke muligt i denne tilstand."),
    (r"Unknown trigger '(?P<trigger>.+)' for a (?P<kind>\w+)\.", "Ukendt handling: %(trigger)s."),
    (r"'(?P<trigger>\w+)' waits for the consultation of: (?P<parties>.+)\.",
     "\"%(trigger)s\" venter på høringssvar fra %(parties)s."),
    (r"No open consultation of the (?P<party>\w+) on (?P<stage>.+)\.",
     "Der er ingen åben høring af %(party)s om %(stage)s."),
    (r"The consultation on (?P<stage>.+?) waits for the answer of (?P<party>.+?): wait for it "
     r"before asking again\.",
     "Høringen om %(stage)s venter stadig på svar fra %(party)s: vent på svaret, før I "
     "spørger igen."),
    (r"Only the (?P<party>\w+), who is responsible for the change, reschedules it\.",
     "Kun %(party)s, der er udførende for ændringen, kan flytte den."),
    (r"Only where the matrix has a conditional R \(footnote 7\); (?P<stage>\w+) on "
     r"(?P<layer>\w+) is the (?P<party>\w+)'s\.",
     "Kun hvor matricen har et betinget R (fodnote 7); %(stage)s på laget %(layer)s varetages "
     "af %(party)s."),
    (r"The planned window is longer than (?P<n>\d+) days\.",
     "Det planlagte vindue er længere end %(n)s dage."),
    (r"Lower-case letters, digits, '-' and '_', at most (?P<n>\d+) characters\.",
     "Små bogstaver, cifre, '-' og '_', højst %(n)s tegn."),
    # refusals of a trigger (domain/access.py): who may, and why
    (r"Only agents and managers of (?P<party>.+?) may use \"(?P<action>[^\"]+)\" on this "
     r"ticket: it is responsible for the (?P<layer>.+) layer\.",
     "Kun medarbejdere og ledere hos %(party)s må bruge \"%(action)s\" på denne sag: den er "
     "ansvarlig for laget %(layer)s."),
    (r"Only agents and managers of (?P<party>.+?) may use \"(?P<action>[^\"]+)\" on this "
     r"ticket: it triages tickets whose layer is not yet known\.",
     "Kun medarbejdere og ledere hos %(party)s må bruge \"%(action)s\" på denne sag: den "
     "visiterer sager, hvis lag endnu ikke er kendt."),
    (r"Only managers of (?P<party>.+?) may use \"(?P<action>[^\"]+)\" on this ticket: it is "
     r"accountable for the (?P<layer>.+) layer\.",
     "Kun ledere hos %(party)s må bruge \"%(action)s\" på denne sag: den har det endelige "
     "ansvar for laget %(layer)s."),
    (r"Only managers of (?P<party>.+?) may use \"(?P<action>[^\"]+)\" on this ticket: it is "
     r"accountable while the layer is not yet known\.",
     "Kun ledere hos %(party)s må bruge \"%(action)s\" på denne sag: den har det endelige "
     "ansvar, så længe laget ikke er kendt."),
    (r"Only managers of (?P<party>.+?) may use \"(?P<action>[^\"]+)\" on this ticket: they "
     r"are accountable for its affected layers\.",
     "Kun ledere hos %(party)s må bruge \"%(action)s\" på denne sag: de har det endelige "
     "ansvar for de berørte lag."),
    (r"Only agents and managers of (?P<party>.+?) may use \"(?P<action>[^\"]+)\" on this "
     r"ticket: it is consulted on the (?P<layer>.+) layer\.",
     "Kun medarbejdere og ledere hos %(party)s må bruge \"%(action)s\" på denne sag: den "
     "høres om laget %(layer)s."),
    (r"Nobody may use \"(?P<action>[^\"]+)\" on this ticket: no party is consulted on the "
     r"(?P<layer>.+) layer\.",
     "Ingen må bruge \"%(action)s\" på denne sag: ingen part høres om laget %(layer)s."),
    (r"A supplier works for the customer but may not use \"(?P<action>[^\"]+)\" on this "
     r"ticket: only the customer itself gives its consent or approval\.",
     "En leverandør arbejder for kunden, men må ikke bruge \"%(action)s\" på denne sag: kun "
     "kunden selv giver sit samtykke eller sin godkendelse."),
    (r"Only the person who reported this ticket, or a reporter of its organisation, may use "
     r"\"(?P<action>[^\"]+)\" on it\.",
     "Kun den, der meldte sagen, eller en anmelder fra samme organisation må bruge "
     "\"%(action)s\" på den."),
    (r"Whoever works this ticket may not use \"(?P<action>[^\"]+)\" on it, even where they "
     r"reported it: the reporting side accepts the work, and the managers of the accountable "
     r"party close it\.",
     "Den, der arbejder med sagen, må ikke bruge \"%(action)s\" på den, heller ikke når de selv "
     "meldte den: den meldende side godkender arbejdet, og lederne hos den part, der har det "
     "endelige ansvar, lukker sagen."),
    (r"Only a user with the role (?P<role>.+?) may use \"(?P<action>[^\"]+)\" on this "
     r"ticket\.", "Kun en bruger med rollen %(role)s må bruge \"%(action)s\" på denne sag."),
    # a trigger's gate is shut now (409)
    (r"This change already has the approval of (?P<party>.+)\.",
     "Ændringen er allerede godkendt af %(party)s."),
    (r"No consultation of (?P<party>.+) is open on this ticket\.",
     "Der er ingen åben høring af %(party)s på denne sag."),
    (r"Nobody is consulted on (?P<stage>.+?) for the (?P<layer>.+) layer\.",
     "Ingen høres om %(stage)s på laget %(layer)s."),
    (r"The ticket changed since version (?P<old>\d+); it is at version (?P<new>\d+)\. Reload and "
     r"try again\.", "Sagen er ændret siden version %(old)s; den er nu i version %(new)s. "
     "Genindlæs, og prøv igen."),
    (r"(?P<name>\w+) is required\.", "%(name)s skal udfyldes."),
    (r"(?P<name>\w+) is too long\.", "%(name)s er for lang."),
    (r"(?P<name>\w+) contains control characters\.", "%(name)s indeholder kontroltegn."),
    (r"(?P<name>\w+) contains invisible characters\.", "%(name)s indeholder usynlige tegn."),
    (r"(?P<name>\w+) is not one of the choices\.", "%(name)s er ikke et af valgene."),
    (r"Invalid fields for '(?P<trigger>\w+)'\.", "Ugyldige felter for \"%(trigger)s\"."),
    (r"Not a trigger of the (?P<kind>\w+) workflow\.", "Ikke en handling i denne arbejdsgang."),
    (r"No user with email (?P<email>.+)\.", "Ingen bruger med e-mailen %(email)s."),
    (r"No system (?P<key>.+)\.", "Intet system %(key)s."),
    (r"(?P<name>\w+) is not a date-time\.", "%(name)s er ikke et tidspunkt."),
    (r"A year from (?P<lo>\d+) to (?P<hi>\d+)\.", "Et årstal fra %(lo)s til %(hi)s."),
    (r"(?P<number>[A-Z]+-\d+|-?\d+) is not an incident of this system's customer\.",
     "%(number)s er ikke en hændelse hos systemets kunde."),
    (r"An? (?P<layer>.+) change is raised by SIT\.",
     "En ændring på laget %(layer)s oprettes af SIT."),
    (r"An? (?P<layer>.+) change is raised by the customer \(or its supplier\)\.",
     "En ændring på laget %(layer)s oprettes af kunden (eller dens leverandør)."),
    # why a ticket is or is not paged (domain/paging.py, services/paging.py)
    (r"after hours: paging the on-call of the (?P<party>\w+)",
     "uden for arbejdstid: vagten hos %(party)s kaldes"),
    (r"working time ended, nobody acknowledged: paging the on-call of the (?P<party>\w+)",
     "arbejdstiden sluttede uden kvittering: vagten hos %(party)s kaldes"),
    (r"after hours: paging the (?P<party>\w+)'s on-call",  # history written before 2026-12-02
     "uden for arbejdstid: vagten hos %(party)s kaldes"),
    (r"(?P<priority>P\d) does not page", "%(priority)s kalder ikke vagten"),
    (r"(?P<environment>[\w-]+) is not production", "%(environment)s er ikke produktion"),
    (r"not possible in state (?P<state>\w+)", "ikke muligt i tilstanden %(state)s"),
    (r"nobody on call at level (?P<n>\d+)", "ingen har vagten på niveau %(n)s"),
    (r"nobody on call at level (?P<n>\d+): escalated",
     "ingen har vagten på niveau %(n)s: eskaleret"),
    (r"nobody on call at level (?P<n>\d+): no further level",
     "ingen har vagten på niveau %(n)s: intet næste niveau"),
    (r"the (?P<party>\w+) has no escalation levels for this system",
     "%(party)s har ingen eskaleringsniveauer for dette system"),
    (r"(?P<n>\d+) failed logins for account (?P<value>.+)",
     "%(n)s mislykkede log ind for kontoen %(value)s"),
    (r"(?P<n>\d+) failed logins for address (?P<value>.+)",
     "%(n)s mislykkede log ind fra adressen %(value)s"),
    (r"(?P<name>\w+) cannot be used in a web address\.",
     "%(name)s kan ikke bruges i en webadresse."),
    # refusals to remove a pager hook (domain/paging.py hook_removal)
    (r"The pager hook is used by the escalation levels of (?P<systems>.+): remove it from "
     r"them first\.", "Personsøger-hooken bruges af eskaleringsniveauerne for %(systems)s: "
     "fjern den fra dem først."),
    (r"The pager hook is in (?P<n>\d+) escalation\(s\) in progress: try again once they are "
     r"acknowledged or resolved\.", "Personsøger-hooken indgår i %(n)s igangværende "
     "eskalering(er): prøv igen, når de er kvitteret eller løst."),
]]

#: SIT is "SIT"; "leverandør" is only ever a third-party supplier working for a customer
_PARTY_DA = {"customer": "kunden", "provider": "SIT", "supplier": "leverandøren",
             "the customer": "kunden", "the provider (SIT)": "SIT", "you": "dig"}
#: the roles as a refusal names them ("sit manager"), see domain/access.py NEEDS_ROLE
_ROLE_DA = {"reporter": "anmelder", "customer agent": "kundemedarbejder",
            "customer manager": "kundeleder", "supplier agent": "leverandørmedarbejder",
            "sit agent": "SIT-medarbejder", "sit manager": "SIT-leder", "admin": "administrator"}


def _trigger_label(trigger: str, kind: str | None) -> str:
    from itilflow.runtime import runtime

    workflows = runtime().rules.workflows
    for wf in [workflows[kind]] if kind in workflows else workflows.values():
        for spec in wf.transitions:
            if spec.trigger == trigger:
                return danish(spec.label)
    return trigger


def _activity_label(key: str) -> str:
    from itilflow.runtime import runtime

    activity = runtime().rules.matrix.activities.get(key)
    return danish(activity.label if activity else key)  # a key or, as messages name it, a label


def _layer_words(value: str) -> str:
    """A layer as a refusal names it ("operating system", "unclassified"), in Danish words."""
    if value == "unclassified":
        return "(endnu ikke klassificeret)"
    return danish(value.replace("_", " ").capitalize()).lower()


def _choice_words(values: str) -> str:
    """The choices a "Must be one of" message lists, in Danish words where there are some (a
    layer, a risk); the others as they are."""
    from itilflow.domain.parties import Layer

    layers = {layer.value for layer in Layer}
    return ", ".join(_layer_words(v) if v in layers else danish(v) for v in values.split(", "))


_PART = {
    "values": lambda value, _groups: _choice_words(value),
    "trigger": lambda value, groups: _trigger_label(value, groups.get("kind")),
    "state": lambda value, _groups: danish(value),
    "stage": lambda value, _groups: "nogen fase" if value == "any stage" else _activity_label(value),
    "party": lambda value, _groups: " eller ".join(_PARTY_DA.get(p, p) for p in value.split(" or ")),
    "parties": lambda value, _groups: ", ".join(_PARTY_DA.get(p, p) for p in value.split(", ")),
    "layer": lambda value, _groups: _layer_words(value),
    "action": lambda value, _groups: danish(value),
    "role": lambda value, _groups: _ROLE_DA.get(value, value),
}


def danish(text: str) -> str:
    """The Danish of a label, or the label itself."""
    return DA.get(text, text)


def translate(locale: str | None, text: str, **values: object) -> str:
    """``text`` in ``locale`` (None or unknown: English) with its ``%(name)s`` filled in; a
    message built with values is recognised by its pattern (``DA_PATTERNS``)."""
    if locale != "da" or not isinstance(text, str):
        return text % values if values else text
    if text in DA:
        return DA[text] % values if values else DA[text]
    return _by_pattern(text) or (text % values if values else text)


def _by_pattern(text: str) -> str | None:
    """The Danish of a message built with values, or None when no pattern knows it."""
    for pattern, danish in DA_PATTERNS:
        found = pattern.fullmatch(text)
        if found:
            groups = found.groupdict()
            return danish % {name: _PART[name](value, groups) if name in _PART else value
                             for name, value in groups.items()}
    return None
