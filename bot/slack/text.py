"""Text that goes into Slack: escaping of text we did not write, and splitting at Slack's limits."""

from __future__ import annotations

SECTION_LIMIT = 3000  # characters in a section block's text
FALLBACK_LIMIT = 3000  # we keep the notification text short; Slack truncates at 40,000


def escape(text: str) -> str:
    """Escape &, < and > so text never becomes a ping (<!channel>, <@U…>) or a link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape(text: str) -> str:
    """Undo Slack's escaping of &, < and > in the text it sends (events, slash commands), so a
    question is stored and searched as typed; ``escape`` it again before showing it."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def link(url: str, label: str) -> str:
    """A mrkdwn link; the label is escaped and may not contain the '|' separator."""
    return f"<{url}|{escape(label).replace('|', '¦')}>" if url else escape(label)


def split(text: str, limit: int = SECTION_LIMIT) -> list[str]:
    """Cut ``text`` into pieces of at most ``limit`` characters, at paragraph, line or word ends."""
    pieces: list[str] = []
    rest = text
    while len(rest) > limit:
        window = rest[:limit]
        cut = max(window.rfind("\n\n"), window.rfind("\n"), window.rfind(" "))
        if cut <= 0:
            cut = limit
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest or not pieces:
        pieces.append(rest)
    return pieces
