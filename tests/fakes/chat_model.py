"""A scripted LangChain chat model: replies queued by the test, prompts recorded.

``enqueue`` takes a reply text, an exception to raise, or a callable ``(messages) -> str``;
with nothing queued the ``default`` callable answers. Streaming yields the reply in small
pieces, with ``delay`` seconds before each, so time-outs and in-place updates can be tested.
"""

from __future__ import annotations

import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import ConfigDict, Field

Reply = str | BaseException | Callable[[list[BaseMessage]], str]


class ScriptedChatModel(BaseChatModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    default: Callable[[list[BaseMessage]], str] = Field(default=lambda messages: "NIET_GEDEKT")
    delay: float = 0.0  # before each streamed piece
    queued: deque = Field(default_factory=deque)
    seen: list = Field(default_factory=list)  # every call's messages, in order
    lock: Any = Field(default_factory=threading.Lock)

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def enqueue(self, *replies: Reply) -> ScriptedChatModel:
        self.queued.extend(replies)
        return self

    def _reply(self, messages: list[BaseMessage]) -> str:
        with self.lock:
            self.seen.append(list(messages))
            reply = self.queued.popleft() if self.queued else self.default
        if isinstance(reply, BaseException):
            raise reply
        return reply(messages) if callable(reply) else reply

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        text = self._reply(messages)
        if self.delay:
            time.sleep(self.delay)
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        text = self._reply(messages)
        for piece in re.findall(r"\S+\s*|\s+", text):
            if self.delay:
                time.sleep(self.delay)
            yield ChatGenerationChunk(message=AIMessageChunk(content=piece))


def system_text(messages: list[BaseMessage]) -> str:
    return "\n".join(m.text for m in messages if m.type == "system")


def human_text(messages: list[BaseMessage]) -> str:
    return "\n".join(m.text for m in messages if m.type == "human")


def is_rewrite(messages: list[BaseMessage]) -> bool:
    """Is this call the query rewrite (rather than the answer)?"""
    return "zoekvragen" in system_text(messages) or "search queries" in system_text(messages)


def passages_of(messages: list[BaseMessage]) -> dict[int, str]:
    """The numbered passages the answer prompt gave the model: {ref: body}."""
    text = human_text(messages)
    found = {}
    for m in re.finditer(r"^\[(\d+)\][^\n]*\n<(tekst-[0-9a-f]+)>\n(.*?)\n</\2>", text, re.S | re.M):
        found[int(m.group(1))] = m.group(3)
    return found
