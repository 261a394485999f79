"""What Ketenbot says about a person's data, in Dutch and English."""

from __future__ import annotations

LABELS: dict[str, dict[str, str]] = {
    "answers": {"nl": "vragen en antwoorden", "en": "questions and answers"},
    "feedback": {"nl": "keer feedback (👍/👎, redenen)", "en": "feedback given (👍/👎, reasons)"},
    "checkin_answers": {"nl": "check-in-antwoorden", "en": "check-in answers"},
    "participants": {"nl": "plaatsen op deelnemerslijsten van rondes", "en": "places on round lists"},
    "absences": {"nl": "afwezigheid", "en": "absence"},
    "preferences": {"nl": "taalvoorkeur", "en": "language preference"},
    "roles": {"nl": "rollen", "en": "roles"},
    "chain_members": {"nl": "toevoegingen aan of uitsluitingen van een keten", "en": "chain list changes"},
    "report_views": {"nl": "bekeken rapporten", "en": "report views"},
    "pending_questions": {"nl": "vragen die nog beantwoord worden", "en": "questions still being answered"},
    "chains_managed": {
        "nl": "ketens waarvan je ketenmanager was (je naam is eruit gehaald)",
        "en": "chains you managed (your name was taken out)",
    },
    "roles_granted": {
        "nl": "rollen die je anderen gaf (je naam is eruit gehaald)",
        "en": "roles you gave others (your name was taken out)",
    },
    "member_changes": {
        "nl": "deelnemers die je toevoegde of uitsloot (je naam is eruit gehaald)",
        "en": "participants you added or left out (your name was taken out)",
    },
    "rounds_opened": {
        "nl": "rondes die je opende (je naam is eruit gehaald)",
        "en": "rounds you opened (your name was taken out)",
    },
    "deliveries": {"nl": "verzonden check-in-DM's (administratie)", "en": "check-in DMs sent (bookkeeping)"},
    "message_receipts": {
        "nl": "ontvangstsleutels van je berichten",
        "en": "receipt keys of your messages",
    },
    "feedback_on_your_answers": {
        "nl": "keer feedback van anderen op jouw antwoorden",
        "en": "feedback by others on your answers",
    },
    "outbox": {"nl": "regels in het lokale wachtbestand", "en": "entries in the local waiting file"},
}

TEXTS: dict[str, dict[str, str]] = {
    "export_sent": {
        "nl": "Je gegevens staan als bestand in je DM met Ketenbot ({n} regels). Bovenaan staat wat elk "
        "deel is. Het bestand staat nu ook in Slack: verwijder het daar als je het niet meer nodig hebt.",
        "en": "Your data is in your DM with Ketenbot as a file ({n} entries). The top explains each part. "
        "The file is now in Slack too: delete it there when you no longer need it.",
    },
    "export_comment": {
        "nl": "Al je gegevens die Ketenbot bewaart (AVG artikel 15). `/keten vergeet-mij` wist ze.",
        "en": "All the data Ketenbot keeps about you (GDPR article 15). `/keten forget-me` erases it.",
    },
    "export_title": {"nl": "Mijn gegevens bij Ketenbot", "en": "My data at Ketenbot"},
    "slack_failed": {
        "nl": "Slack nam het bestand nu niet aan; er is niets veranderd. Probeer het over een paar minuten "
        "opnieuw.",
        "en": "Slack did not accept the file just now; nothing was changed. Please try again in a few "
        "minutes.",
    },
    "storage_down": {
        "nl": "De opslag is even niet bereikbaar; er is niets gewist of veranderd. Probeer het over een paar "
        "minuten opnieuw.",
        "en": "Storage cannot be reached for a moment; nothing was erased or changed. Please try again in a "
        "few minutes.",
    },
    "erase_ask": {
        "nl": "*Alles wissen wat Ketenbot over je bewaart?*\nDit wordt gewist:\n{what}\n\nDit kan niet "
        "ongedaan worden. Totalen die al in Slack staan bevatten geen namen en blijven staan; rapporten "
        "tellen je vanaf nu niet meer mee. Wil je eerst een kopie? Gebruik `/keten mijn-gegevens`.",
        "en": "*Erase everything Ketenbot keeps about you?*\nThis is erased:\n{what}\n\nThis cannot be "
        "undone. Totals already in Slack hold no names and stay; reports no longer count you from now on. "
        "Want a copy first? Use `/keten my-data`.",
    },
    "erase_nothing": {
        "nl": "Ketenbot bewaart niets over je; er is niets te wissen.",
        "en": "Ketenbot keeps nothing about you; there is nothing to erase.",
    },
    "confirm": {"nl": "Ja, wis alles", "en": "Yes, erase everything"},
    "cancel": {"nl": "Nee, niets wissen", "en": "No, erase nothing"},
    "cancelled": {"nl": "Goed, er is niets gewist.", "en": "Fine, nothing was erased."},
    "erase_done": {
        "nl": "*Gewist.* Ketenbot bewaart niets meer over je:\n{what}",
        "en": "*Erased.* Ketenbot keeps nothing about you any more:\n{what}",
    },
    "erase_chains": {
        "nl": "De keten(s) {chains} hebben nu geen ketenmanager; een beheerder wijst een nieuwe aan met "
        "`/keten keten beheerder @iemand`. Tips na een check-in gaan tot dan naar het kanaal.",
        "en": "The chain(s) {chains} now have no chain manager; an administrator appoints a new one with "
        "`/keten chain manager @someone`. Until then tips after a check-in go to the channel.",
    },
    "erase_outbox_failed": {
        "nl": "Het lokale wachtbestand kon niet worden bijgewerkt; vraag de beheerder van Ketenbot om het "
        "nog eens te proberen (`/keten vergeet-mij` opnieuw mag ook).",
        "en": "The local waiting file could not be updated; ask Ketenbot's administrator to try again "
        "(running `/keten forget-me` again works too).",
    },
    "erase_again": {
        "nl": "Er was niets (meer) over je bewaard; er is niets gewist.",
        "en": "Nothing about you was kept (any more); nothing was erased.",
    },
    "erase_in_channel": {
        "nl": "Nieuwe berichten aan Ketenbot worden weer bewaard zolang je hem gebruikt; in een kanaal van "
        "een keten word je bij een volgende check-in weer uitgenodigd.",
        "en": "New messages to Ketenbot are kept again while you use it; in a chain's channel you are "
        "invited again at the next check-in.",
    },
    "not_yours": {
        "nl": "Deze knop is van iemand anders: alleen wie om het wissen vroeg kan het bevestigen. Er is "
        "niets gewist. Je eigen gegevens wissen kan met `/keten vergeet-mij`.",
        "en": "This button belongs to someone else: only who asked for the erasure can confirm it. Nothing "
        "was erased. To erase your own data use `/keten forget-me`.",
    },
    "expired": {
        "nl": "Deze bevestiging is verlopen; er is niets gewist. Vraag het opnieuw met `/keten vergeet-mij`.",
        "en": "This confirmation has expired; nothing was erased. Ask again with `/keten forget-me`.",
    },
    "usage": {
        "nl": "`/keten mijn-gegevens`: al je gegevens als bestand in je DM. `/keten vergeet-mij`: alles over "
        "je wissen (eerst vraagt Ketenbot je het te bevestigen). Meer woorden zijn niet nodig.",
        "en": "`/keten my-data`: all your data as a file in your DM. `/keten forget-me`: erase everything "
        "about you (Ketenbot asks you to confirm first). No further words are needed.",
    },
}


def t(key: str, language: str, **values: object) -> str:
    text = TEXTS[key]["en" if language == "en" else "nl"]
    return text.format(**values) if values else text


def counted(counts: dict[str, int], language: str) -> str:
    """One bullet per kind with a count above 0, e.g. "• 3 vragen en antwoorden"."""
    lang = "en" if language == "en" else "nl"
    return "\n".join(f"• {n} {LABELS[kind][lang]}" for kind, n in counts.items() if n and kind in LABELS)
