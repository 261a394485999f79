"""Every place in the records where a Slack user id is kept: one list, read by the export (AVG
art. 15), the erasure (art. 17) and the tests (which check it against the whole schema).

Columns that hold a user id as their value:

========================  ==================  =========================================  ========
kind                      table.column        what it is                                 erasure
========================  ==================  =========================================  ========
answers                   answers.user_id     questions asked and the bot's answers      delete
feedback                  feedback.user_id    👍/👎 and reasons given                     delete
checkin_answers           checkin_answers     a person's check-in answers                delete
participants              participants        being on a round's list (invited, reminded) delete
absences                  absences.user_id    "away until"                               delete
preferences               preferences         the chosen language                        delete
roles                     roles.user_id       roles held                                 delete
chain_members             chain_members       added to / left out of a chain             delete
report_views              report_views        reports looked at                          delete
pending_questions         pending_questions   questions received, not yet answered       delete
chains_managed            chains.manager_id   chains this person manages                 replace
roles_granted             roles.granted_by    roles this person gave others              replace
member_changes            chain_members       participants this person added or left out replace
                          .changed_by
rounds_opened             rounds.opened_by    rounds this person opened by hand          replace
========================  ==================  =========================================  ========

"replace": the row belongs to others too (a chain, someone else's role); the user id in it is
replaced by :data:`ERASED` and the rest of the row stays.

Text keys that embed a user id or point at a person's messages:

- ``deliveries.key``: ``invite:<round>:<user>`` and ``remind:<round>:<user>`` (the check-in DMs);
  any key with the user id as one of its ``:``-separated parts is theirs.
- ``processed_events.event_id``: ``msg:<channel>:<ts>`` for every message the bot answered; the
  ones of this person's messages are found through their answers (channel and thread) and their
  DM channel with the bot. No user id in them, but they point at the person's messages in Slack.

Outside the database: the outbox file (``DATA_DIR/outbox.jsonl``, answers and message keys kept
while the database was down) is handled through :class:`bot.records.outbox.Outbox`.

Not personal data, so neither exported nor erased: ``nudge_settings`` and ``nudges_sent`` (per
chain, no user id; a contextual nudge DM'd to a chain manager is listed in that manager's export
with the chain), the Chroma index (the guidance only), the published summaries (totals only).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Column, Table

from bot.records.schema import (
    absences,
    answers,
    chain_members,
    chains,
    checkin_answers,
    deliveries,
    feedback,
    participants,
    pending_questions,
    preferences,
    processed_events,
    report_views,
    roles,
    rounds,
)

#: Put in place of an erased person's user id in rows shared with others (never a valid Slack id:
#: those are upper case). Like "plan" (a round opened by the plan) and "console".
ERASED = "erased"
DELETE, REPLACE = "delete", "replace"


@dataclass(frozen=True)
class Place:
    kind: str  # the name in the export and in the erasure's counts
    table: Table
    column_name: str
    action: str  # DELETE: the row is this person's; REPLACE: the row is shared, the id is replaced

    @property
    def column(self) -> Column:
        return self.table.c[self.column_name]


# Order matters for the erasure: own rows are deleted before ids are replaced in shared rows (a
# role someone granted themselves is deleted, not kept with "erased" as its granter).
PLACES: tuple[Place, ...] = (
    Place("feedback", feedback, "user_id", DELETE),
    Place("answers", answers, "user_id", DELETE),
    Place("checkin_answers", checkin_answers, "user_id", DELETE),
    Place("participants", participants, "user_id", DELETE),
    Place("absences", absences, "user_id", DELETE),
    Place("preferences", preferences, "user_id", DELETE),
    Place("roles", roles, "user_id", DELETE),
    Place("chain_members", chain_members, "user_id", DELETE),
    Place("report_views", report_views, "user_id", DELETE),
    Place("pending_questions", pending_questions, "user_id", DELETE),
    Place("chains_managed", chains, "manager_id", REPLACE),
    Place("roles_granted", roles, "granted_by", REPLACE),
    Place("member_changes", chain_members, "changed_by", REPLACE),
    Place("rounds_opened", rounds, "opened_by", REPLACE),
)

#: Text keys with a user id (or a pointer to a person's message) inside: (kind, column).
KEYED: tuple[tuple[str, Column], ...] = (
    ("deliveries", deliveries.c.key),
    ("message_receipts", processed_events.c.event_id),
)

#: Every kind, in the order the export lists them and the erasure reports them.
KINDS: tuple[str, ...] = (
    *(p.kind for p in PLACES),
    *(kind for kind, _ in KEYED),
    "feedback_on_your_answers",  # others' 👍/👎 on this person's answers: gone with the answers
    "outbox",
)


def key_names(key: str, user_id: str) -> bool:
    """Does this ``:``-separated key (a delivery key) name ``user_id`` as one of its parts?"""
    return bool(user_id) and user_id in key.split(":")
