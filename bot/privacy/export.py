"""A person's own data as one JSON file (AVG art. 15): everything the records hold about them.

The file starts with a short explanation in Dutch and English (``readme``), then ``about`` (who,
when, how many rows of each kind), then one list per kind (see :mod:`bot.privacy.places`), with
chain names and round dates joined in so it reads without the database. Times are ISO 8601 in
UTC. Data of other people is left out, except where it is part of this person's own actions (the
user id of someone they gave a role to or added to a chain).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Engine, case, select

from bot.privacy.find import delivery_keys, message_keys, message_refs, outbox_match
from bot.privacy.places import KINDS, PLACES
from bot.records.outbox import Outbox
from bot.records.schema import (
    answers,
    chain_members,
    chains,
    checkin_answers,
    deliveries,
    feedback,
    nudge_settings,
    nudges_sent,
    participants,
    processed_events,
    report_views,
    roles,
    rounds,
)

FORMAT_VERSION = 1

README = {
    "nl": {
        "about": "Dit zijn al je gegevens die Ketenbot bewaart (AVG artikel 15). Tijden zijn in UTC. "
        "Dit bestand staat nu in je DM met Ketenbot in Slack: verwijder het daar als je het niet meer "
        "nodig hebt. Met `/keten vergeet-mij` wis je alles hieronder.",
        "answers": "Je vragen aan Ketenbot en zijn antwoorden: de citaten (sources) en, als een taalmodel "
        "meeschreef, de tekst daarvan (ai_text).",
        "feedback": "Je 👍/👎 op antwoorden (helpful), met de reden als je die gaf.",
        "checkin_answers": "Je antwoorden op de wekelijkse check-ins, per keten en ronde. Anderen zien ze "
        "alleen als totalen.",
        "participants": "De check-in-rondes waarvoor je op de lijst stond: wanneer je uitgenodigd en "
        "herinnerd bent.",
        "absences": "Je afwezigheid (`/keten afwezig`): tot wanneer je geen check-in-DM's krijgt.",
        "preferences": "De taal die je koos voor Ketenbots eigen woorden (`/keten taal`).",
        "roles": "Je rollen (ketenmanager, coördinator): wie ze gaf en wanneer.",
        "chain_members": "Waar een ketenmanager je aan een keten toevoegde of je eruit liet.",
        "report_views": "Welke rapporten je bekeek (wie, wanneer, welke ketens en weken; nooit de cijfers).",
        "pending_questions": "Vragen die je stelde en die nog beantwoord worden (normaal een paar seconden; "
        "blijft er een staan, dan beantwoordt een andere server hem).",
        "chains_managed": "De ketens waarvan je ketenmanager bent, met de instellingen van de tips en de "
        "tips die na een check-in naar de ketenmanager gingen.",
        "roles_granted": "Rollen die jij aan anderen gaf.",
        "member_changes": "Deelnemers die jij aan een keten toevoegde of eruit liet.",
        "rounds_opened": "Check-in-rondes die jij met de hand opende.",
        "deliveries": "De check-in-DM's (uitnodiging, herinnering) die Ketenbot je stuurde: de sleutel "
        "waarmee hij bijhoudt dat ze precies één keer verstuurd zijn.",
        "message_receipts": "Sleutels van je berichten aan Ketenbot (kanaal en tijdstip), waarmee hij "
        "elk bericht maar één keer beantwoordt.",
        "outbox": "Je vragen en antwoorden die nog in het lokale wachtbestand staan omdat de database "
        "even niet bereikbaar was.",
    },
    "en": {
        "about": "This is all the data Ketenbot keeps about you (GDPR article 15). Times are in UTC. "
        "This file is now in your DM with Ketenbot in Slack: delete it there when you no longer need "
        "it. `/keten forget-me` erases everything below.",
        "answers": "Your questions to Ketenbot and its answers: the quotes (sources) and, when a "
        "language model helped write it, its text (ai_text).",
        "feedback": "Your 👍/👎 on answers (helpful), with your reason if you gave one.",
        "checkin_answers": "Your answers to the weekly check-ins, per chain and round. Others only see "
        "them as totals.",
        "participants": "The check-in rounds you were on the list for: when you were invited and reminded.",
        "absences": "Your absence (`/keten away`): until when you get no check-in DMs.",
        "preferences": "The language you chose for Ketenbot's own words (`/keten language`).",
        "roles": "Your roles (chain manager, coordinator): who gave them and when.",
        "chain_members": "Where a chain manager added you to a chain or left you out.",
        "report_views": "Which reports you looked at (who, when, which chains and weeks; never the figures).",
        "pending_questions": "Questions you asked that are still being answered (normally for seconds; "
        "if one is left, another server answers it).",
        "chains_managed": "The chains you manage, with their tip settings and the tips sent to the "
        "chain manager after a check-in.",
        "roles_granted": "Roles you gave to others.",
        "member_changes": "Participants you added to a chain or left out.",
        "rounds_opened": "Check-in rounds you opened by hand.",
        "deliveries": "The check-in DMs (invitation, reminder) Ketenbot sent you: the key with which it "
        "makes sure each is sent exactly once.",
        "message_receipts": "Keys of your messages to Ketenbot (channel and time), with which it answers "
        "each message only once.",
        "outbox": "Your questions and answers still in the local waiting file because the database was "
        "briefly unreachable.",
    },
}


def collect(
    engine: Engine, user_id: str, *, outbox: Outbox | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """Everything kept about ``user_id``, as a JSON-ready dict (see the module docs)."""
    if not user_id:
        raise ValueError("a user id is needed")
    waiting = outbox.entries() if outbox is not None else []
    parts: dict[str, list[dict]] = {}
    with engine.connect() as conn:

        def rows(query) -> list[dict]:  # noqa: ANN001 - a select
            return [_plain(dict(r)) for r in conn.execute(query).mappings()]

        by = {p.kind: p for p in PLACES}
        # the question is shown for this person's own answers; someone else's question stays theirs
        own_question = case((answers.c.user_id == user_id, answers.c.question), else_=None)
        parts["feedback"] = rows(
            select(feedback, own_question.label("question"))
            .join(answers, answers.c.id == feedback.c.answer_id)
            .where(feedback.c.user_id == user_id)
            .order_by(feedback.c.created_at)
        )
        parts["answers"] = rows(
            select(answers).where(answers.c.user_id == user_id).order_by(answers.c.created_at)
        )
        round_info = (
            rounds.c.opened_at.label("round_opened_at"),
            rounds.c.closes_at.label("round_closes_at"),
            rounds.c.closed_at.label("round_closed_at"),
            chains.c.name.label("chain_name"),
        )
        parts["checkin_answers"] = rows(
            select(checkin_answers, *round_info)
            .join(rounds, rounds.c.id == checkin_answers.c.round_id)
            .join(chains, chains.c.id == rounds.c.chain_id)
            .where(checkin_answers.c.user_id == user_id)
            .order_by(rounds.c.opened_at)
        )
        parts["participants"] = rows(
            select(participants, *round_info)
            .join(rounds, rounds.c.id == participants.c.round_id)
            .join(chains, chains.c.id == rounds.c.chain_id)
            .where(participants.c.user_id == user_id)
            .order_by(rounds.c.opened_at)
        )
        for kind in ("absences", "preferences", "roles", "pending_questions"):
            place = by[kind]
            parts[kind] = rows(select(place.table).where(place.column == user_id))
        parts["chain_members"] = rows(
            select(chain_members, chains.c.name.label("chain_name"))
            .join(chains, chains.c.id == chain_members.c.chain_id)
            .where(chain_members.c.user_id == user_id)
        )
        parts["report_views"] = rows(
            select(report_views).where(report_views.c.user_id == user_id).order_by(report_views.c.viewed_at)
        )
        managed = rows(select(chains).where(chains.c.manager_id == user_id).order_by(chains.c.name))
        for chain in managed:
            setting = (
                conn.execute(select(nudge_settings).where(nudge_settings.c.chain_id == chain["id"]))
                .mappings()
                .first()
            )
            chain["tip_settings"] = _plain(dict(setting)) if setting else None
            chain["tips_after_checkins"] = rows(
                select(nudges_sent.c.tip_id, nudges_sent.c.sent_at)
                .where(nudges_sent.c.chain_id == chain["id"], nudges_sent.c.kind == "contextual")
                .order_by(nudges_sent.c.sent_at)
            )
        parts["chains_managed"] = managed
        parts["roles_granted"] = rows(
            select(roles.c.role, roles.c.user_id.label("given_to"), roles.c.granted_at).where(
                roles.c.granted_by == user_id
            )
        )
        parts["member_changes"] = rows(
            select(
                chains.c.name.label("chain_name"),
                chain_members.c.user_id.label("participant"),
                chain_members.c.included,
                chain_members.c.changed_at,
            )
            .join(chains, chains.c.id == chain_members.c.chain_id)
            .where(chain_members.c.changed_by == user_id)
        )
        parts["rounds_opened"] = rows(
            select(
                chains.c.name.label("chain_name"),
                rounds.c.id,
                rounds.c.opened_at,
                rounds.c.closes_at,
                rounds.c.closed_at,
            )
            .join(chains, chains.c.id == rounds.c.chain_id)
            .where(rounds.c.opened_by == user_id)
            .order_by(rounds.c.opened_at)
        )
        keys = delivery_keys(conn, user_id)
        parts["deliveries"] = _deliveries(conn, keys, rows)
        refs = message_refs(conn, user_id, waiting)
        parts["message_receipts"] = [
            r
            for key in message_keys(conn, refs)
            for r in rows(select(processed_events).where(processed_events.c.event_id == key))
        ]
    match = outbox_match(user_id, refs)
    parts["outbox"] = [
        {"kind": e.kind, "row": _plain(e.row or {"damaged_line": e.line})} for e in waiting if match(e)
    ]
    moment = now or datetime.now(UTC)
    return {
        "readme": README,
        "about": {
            "format": f"ketenbot-mijn-gegevens/{FORMAT_VERSION}",
            "user_id": user_id,
            "generated_at": _value(moment),
            "counts": {kind: len(parts[kind]) for kind in KINDS if kind in parts},
        },
        **{kind: parts[kind] for kind in KINDS if kind in parts},
    }


def export_json(
    engine: Engine, user_id: str, *, outbox: Outbox | None = None, now: datetime | None = None
) -> str:
    """:func:`collect` as UTF-8 JSON text, indented."""
    return json.dumps(collect(engine, user_id, outbox=outbox, now=now), ensure_ascii=False, indent=2) + "\n"


def filename(user_id: str, now: datetime) -> str:
    safe = "".join(ch for ch in user_id if ch.isalnum())[:32] or "ik"
    return f"ketenbot-mijn-gegevens-{safe}-{now.astimezone(UTC):%Y%m%d-%H%M%S}.json"


def _deliveries(conn, keys: list[str], rows: Callable[[Any], list[dict]]) -> list[dict]:  # noqa: ANN001
    found = []
    for key in keys:
        for row in rows(select(deliveries).where(deliveries.c.key == key)):
            what, _, rest = key.partition(":")
            round_id = rest.split(":", 1)[0]
            chain = conn.execute(
                select(chains.c.name)
                .join(rounds, rounds.c.chain_id == chains.c.id)
                .where(rounds.c.id == round_id)
            ).first()
            found.append({"what": what, "chain_name": chain[0] if chain else None, **row})
    return found


def _value(value: Any) -> Any:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_value(v) for v in value]
    return value


def _plain(row: dict) -> dict:
    return {k: _value(v) for k, v in row.items()}
