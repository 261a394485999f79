"""The versioned prompt files in ``prompts/llm/`` as LangChain chat prompts.

Each prompt has a Dutch and an English version. Everything the model is given besides the
rules (passages, the question, the thread so far) goes in fenced blocks whose fence name is
new for every question, so text inside cannot close the fence and pose as the bot's words.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

import yaml
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder

from bot.llm.checks import Passage

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DIR = REPO_ROOT / "prompts" / "llm"
LANGUAGES = ("nl", "en")
MAX_PASSAGE_CHARS = 1800
MAX_TURN_CHARS = 600


class PromptError(ValueError):
    """A prompt file is missing, malformed or lacks a placeholder the code fills in."""


@dataclass(frozen=True)
class Turn:
    """One earlier exchange in a thread: what was asked and what the bot said."""

    question: str
    reply: str


@dataclass(frozen=True)
class PromptFile:
    version: str
    system: dict[str, str]
    user: dict[str, str]


@dataclass(frozen=True)
class Prompts:
    answer: PromptFile
    rewrite: PromptFile
    canary: str  # a secret marker in the system prompt: seen in an output, the prompt leaked

    @property
    def version(self) -> str:
        return f"{self.answer.version}+{self.rewrite.version}"

    def system_texts(self) -> list[str]:
        """The rules as the model sees them, for the leak check."""
        return [
            text.format(canary=self.canary)
            for f in (self.answer, self.rewrite)
            for text in f.system.values()
        ]

    def answer_messages(
        self, language: str, question: str, passages: list[Passage], history: list[Turn]
    ) -> list[BaseMessage]:
        fence = new_fence()
        template = ChatPromptTemplate.from_messages(
            [
                ("system", self.answer.system[language]),
                MessagesPlaceholder("history", optional=True),
                ("human", self.answer.user[language]),
            ]
        )
        return template.format_messages(
            canary=self.canary,
            fence=fence,
            passages="\n\n".join(_passage_block(p, fence) for p in passages),
            question=_defang(question, fence),
            history=_history_messages(history, fence),
        )

    def rewrite_messages(self, language: str, question: str, history: list[Turn]) -> list[BaseMessage]:
        fence = new_fence()
        template = ChatPromptTemplate.from_messages(
            [("system", self.rewrite.system[language]), ("human", self.rewrite.user[language])]
        )
        earlier = ""
        if history:
            label = "Eerder in dit gesprek" if language == "nl" else "Earlier in this conversation"
            body = "\n".join(f"- {_defang(t.question[:MAX_TURN_CHARS], fence)}" for t in history)
            earlier = f"{label}, tussen <{fence}> en </{fence}>:\n<{fence}>\n{body}\n</{fence}>\n\n"
            if language == "en":
                earlier = earlier.replace("tussen", "between").replace(" en </", " and </")
        return template.format_messages(
            canary=self.canary, fence=fence, question=_defang(question, fence), history=earlier
        )


def new_fence() -> str:
    return f"tekst-{secrets.token_hex(4)}"


def _defang(text: str, fence: str) -> str:
    """Text from outside (a question, a document) with anything looking like a fence tag removed."""
    return text.replace(f"<{fence}>", " ").replace(f"</{fence}>", " ")


def _passage_block(passage: Passage, fence: str) -> str:
    body = _defang(passage.text[:MAX_PASSAGE_CHARS], fence)
    head = f"[{passage.ref}] {passage.section}".rstrip()
    return f"{head}\n<{fence}>\n{body}\n</{fence}>"


def _history_messages(history: list[Turn], fence: str) -> list[BaseMessage]:
    out: list[BaseMessage] = []
    for turn in history:
        out.append(HumanMessage(f"<{fence}>\n{_defang(turn.question[:MAX_TURN_CHARS], fence)}\n</{fence}>"))
        out.append(AIMessage(turn.reply[:MAX_TURN_CHARS]))
    return out


def load_prompts(folder: Path = DEFAULT_DIR, canary: str | None = None) -> Prompts:
    """Read ``answer.yaml`` and ``rewrite.yaml``; say clearly what is wrong with them."""
    return Prompts(
        answer=_load(folder / "answer.yaml", {"canary", "fence", "passages", "question"}),
        rewrite=_load(folder / "rewrite.yaml", {"fence", "question", "history"}),
        canary=canary or f"KB-{secrets.token_hex(6)}",
    )


def _load(path: Path, needed: set[str]) -> PromptFile:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise PromptError(f"{path}: cannot be read ({exc})") from exc
    if not isinstance(data, dict) or not str(data.get("version") or "").strip():
        raise PromptError(f"{path}: needs a 'version' and a 'nl' and 'en' part")
    system, user = {}, {}
    for language in LANGUAGES:
        part = data.get(language)
        if not isinstance(part, dict) or not all(isinstance(part.get(k), str) for k in ("system", "user")):
            raise PromptError(f"{path}: '{language}' needs a 'system' and a 'user' text")
        system[language], user[language] = part["system"].strip(), part["user"].strip()
        both = system[language] + user[language]
        missing = sorted(n for n in needed if "{" + n + "}" not in both)
        if missing:
            raise PromptError(f"{path}: '{language}' lacks the placeholder(s) {', '.join(missing)}")
    return PromptFile(str(data["version"]).strip(), system, user)
