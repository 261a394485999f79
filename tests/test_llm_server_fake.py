"""The fake LLM server (tests/fakes/llm_server.py), driven through the real client libraries.

Every test talks to FakeLLMServer on 127.0.0.1 through langchain-openai / langchain-anthropic (or the
bare openai / anthropic SDKs), so the fake is proven to match what those parsers accept.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from typing import Any

import anthropic
import openai
import pytest
from langchain_anthropic import ChatAnthropic
from langchain_anthropic.chat_models import (
    AnthropicAPIError,
    AnthropicConnectionError,
    AnthropicRateLimitError,
    AnthropicTimeoutError,
)
from langchain_core.messages import HumanMessage, SystemMessage
from langchain_openai import ChatOpenAI
from langchain_openai.chat_models.base import (
    OpenAIAPIError,
    OpenAIConnectionError,
    OpenAIRateLimitError,
    OpenAITimeoutError,
)

from tests.fakes.llm_server import FakeLLMServer, normalise_messages, split_reply

REPLY = "Ketensturing betekent dat organisaties samen sturen op de hele keten, niet elk op hun eigen stukje."
SYSTEM = "Je bent Ketenbot, een coach voor ketensturing."
QUESTION = "Wat is ketensturing?"
APIS = pytest.mark.parametrize("api", ["openai", "anthropic"])
# the LangChain wrappers re-raise SDK errors as subclasses that are also LangChain model errors
SERVER_ERROR = {"openai": (OpenAIAPIError, openai.InternalServerError),
                "anthropic": (AnthropicAPIError, anthropic.InternalServerError)}
TIMEOUT = {"openai": (OpenAITimeoutError, openai.APITimeoutError),
           "anthropic": (AnthropicTimeoutError, anthropic.APITimeoutError)}
CONNECTION = {"openai": (OpenAIConnectionError, openai.APIConnectionError),
              "anthropic": (AnthropicConnectionError, anthropic.APIConnectionError)}


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """No proxies, no tracing, and any connection off 127.0.0.1 fails the test."""
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy",
                "LANGSMITH_TRACING", "LANGCHAIN_TRACING_V2", "LANGSMITH_GATEWAY"):
        monkeypatch.delenv(var, raising=False)
    real = socket.create_connection

    def guarded(address, *args, **kwargs):  # type: ignore[no-untyped-def]
        if address[0] not in {"127.0.0.1", "localhost", "::1"}:
            raise AssertionError(f"test tried to reach {address[0]}:{address[1]}")
        return real(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", guarded)


@pytest.fixture
def seen() -> list[list[dict[str, str]]]:
    """The normalised conversations the responder was called with."""
    return []


@pytest.fixture
def server(seen: list[list[dict[str, str]]]):  # type: ignore[no-untyped-def]
    def responder(messages: list[dict[str, str]], request: dict[str, Any]) -> str:
        seen.append(messages)
        return REPLY

    with FakeLLMServer(responder) as fake:
        yield fake


def chat(api: str, server: FakeLLMServer, timeout: float = 5.0, **kwargs: Any) -> Any:
    """A real LangChain chat model pointed at the fake."""
    if api == "openai":
        return ChatOpenAI(base_url=server.openai_base_url, api_key="test-key", model="stub",
                          max_retries=0, timeout=timeout, **kwargs)
    return ChatAnthropic(base_url=server.anthropic_base_url, api_key="test-key", model="stub-model",
                         max_retries=0, timeout=timeout, max_tokens=256, **kwargs)


PATH = {"openai": "/v1/chat/completions", "anthropic": "/v1/messages"}


@APIS
def test_invoke_returns_the_responders_text(api: str, server: FakeLLMServer) -> None:
    answer = chat(api, server).invoke(QUESTION)
    assert answer.content == REPLY
    assert answer.usage_metadata["output_tokens"] == len(REPLY.split())
    [request] = server.requests
    assert (request["method"], request["path"], request["outcome"]) == ("POST", PATH[api], "ok")
    assert request["body"]["model"] == ("stub" if api == "openai" else "stub-model")
    assert not request["body"].get("stream")
    assert server.counts == {"ok": 1}


@APIS
def test_stream_arrives_in_several_pieces(api: str, server: FakeLLMServer) -> None:
    pieces = [chunk.content for chunk in chat(api, server).stream(QUESTION) if chunk.content]
    assert "".join(pieces) == REPLY
    assert len(pieces) > 1
    assert pieces == split_reply(REPLY)
    assert server.requests[0]["body"]["stream"] is True


@APIS
def test_async_clients_work_too(api: str, server: FakeLLMServer) -> None:
    async def run() -> tuple[str, list[str]]:
        llm = chat(api, server)
        answer = await llm.ainvoke(QUESTION)
        return answer.content, [chunk.content async for chunk in llm.astream(QUESTION) if chunk.content]

    content, pieces = asyncio.run(run())
    assert content == REPLY and pieces == split_reply(REPLY)


@APIS
def test_streamed_usage_reaches_the_client(api: str, server: FakeLLMServer) -> None:
    chunks = list(chat(api, server, stream_usage=True).stream(QUESTION))
    usage = [c.usage_metadata for c in chunks if c.usage_metadata]
    assert sum(u["output_tokens"] for u in usage) == len(REPLY.split())
    if api == "openai":  # usage comes as an extra chunk with empty choices, only when asked for
        assert server.requests[0]["body"]["stream_options"] == {"include_usage": True}


@APIS
def test_system_message_reaches_the_responder_as_system(api: str, server: FakeLLMServer,
                                                        seen: list[list[dict[str, str]]]) -> None:
    chat(api, server).invoke([SystemMessage(SYSTEM), HumanMessage(QUESTION)])
    assert seen == [[{"role": "system", "content": SYSTEM}, {"role": "user", "content": QUESTION}]]
    body = server.requests[0]["body"]
    if api == "anthropic":  # on the wire it is the top-level "system" field, not a message
        assert body["system"] == SYSTEM and [m["role"] for m in body["messages"]] == ["user"]
    else:
        assert [m["role"] for m in body["messages"]] == ["system", "user"]


def test_text_blocks_are_joined(server: FakeLLMServer, seen: list[list[dict[str, str]]]) -> None:
    blocks = [{"type": "text", "text": "Eerste deel."}, {"type": "text", "text": "Tweede deel."}]
    chat("anthropic", server).invoke([HumanMessage(content=blocks)])
    assert seen[0] == [{"role": "user", "content": "Eerste deel.\nTweede deel."}]


@APIS
def test_the_api_key_is_recorded(api: str, server: FakeLLMServer) -> None:
    chat(api, server).invoke(QUESTION)
    assert server.api_keys == ["test-key"]
    headers = server.requests[0]["headers"]
    # anthropic 2.x sends the key as a Bearer token too (older SDKs used x-api-key)
    assert headers.get("authorization") == "Bearer test-key" or headers.get("x-api-key") == "test-key"
    if api == "anthropic":
        assert headers["anthropic-version"]


@APIS
def test_fail_next_raises_a_server_error_once(api: str, server: FakeLLMServer) -> None:
    server.fail_next(1)
    with pytest.raises(Exception) as caught:
        chat(api, server).invoke(QUESTION)
    wrapped, sdk_error = SERVER_ERROR[api]
    assert type(caught.value) is wrapped and isinstance(caught.value, sdk_error)
    assert caught.value.status_code == 500
    assert chat(api, server).invoke(QUESTION).content == REPLY
    assert server.counts == {"failed": 1, "ok": 1}


@APIS
def test_fail_next_uses_the_providers_error_shape(api: str, server: FakeLLMServer) -> None:
    server.fail_next(1, status=429)
    expected = OpenAIRateLimitError if api == "openai" else AnthropicRateLimitError
    with pytest.raises(expected) as caught:
        chat(api, server).invoke(QUESTION)
    if api == "openai":  # the SDK keeps the inner "error" object as the body
        assert caught.value.body["code"] == "rate_limit_exceeded"
    else:
        assert caught.value.body["type"] == "error"
        assert caught.value.body["error"]["type"] == "rate_limit_error"


@APIS
def test_slow_next_trips_the_client_timeout(api: str, server: FakeLLMServer) -> None:
    server.slow_next(1, 5.0)
    started = time.monotonic()
    with pytest.raises(Exception) as caught:
        chat(api, server, timeout=0.5).invoke(QUESTION)
    assert time.monotonic() - started < 2.0
    wrapped, sdk_error = TIMEOUT[api]
    assert type(caught.value) is wrapped and isinstance(caught.value, sdk_error)
    assert chat(api, server, timeout=0.5).invoke(QUESTION).content == REPLY  # the next one is quick


def test_a_sleeping_request_does_not_block_others(server: FakeLLMServer) -> None:
    server.slow_next(1, 1.5)
    slow: dict[str, Any] = {}
    worker = threading.Thread(target=lambda: slow.update(answer=chat("openai", server).invoke("traag")))
    worker.start()
    server.wait_for_requests(1)
    started = time.monotonic()
    assert chat("anthropic", server).invoke("snel").content == REPLY
    assert time.monotonic() - started < 1.0
    worker.join(timeout=5)
    assert slow["answer"].content == REPLY


def test_stop_ends_a_sleeping_handler_promptly() -> None:
    fake = FakeLLMServer().start()
    fake.slow_next(1, 30.0)
    errors: list[BaseException] = []

    def call() -> None:
        try:
            chat("openai", fake, timeout=60).invoke("hoi")
        except Exception as exc:  # noqa: BLE001 - collected for the assertion below
            errors.append(exc)

    worker = threading.Thread(target=call)
    worker.start()
    fake.wait_for_requests(1)
    started = time.monotonic()
    fake.stop()
    worker.join(timeout=5)
    assert time.monotonic() - started < 2.0 and not worker.is_alive()
    assert [type(e) for e in errors] == [OpenAIConnectionError]
    assert fake.counts == {"aborted": 1}


@APIS
def test_garbage_next_raises(api: str, server: FakeLLMServer) -> None:
    server.garbage_next(1)
    # a 200 with an application/json content type but an HTML body: the SDKs' response.json() fails
    with pytest.raises(json.JSONDecodeError):
        chat(api, server).invoke(QUESTION)
    assert server.counts == {"garbage": 1}


@APIS
def test_drop_next_raises_a_connection_error(api: str, server: FakeLLMServer) -> None:
    server.drop_next(1)
    with pytest.raises(Exception) as caught:
        chat(api, server).invoke(QUESTION)
    wrapped, sdk_error = CONNECTION[api]
    assert type(caught.value) is wrapped and isinstance(caught.value, sdk_error)
    assert server.counts == {"dropped": 1}


def test_fail_rate_is_random_but_seeded(server: FakeLLMServer) -> None:
    def pattern() -> list[bool]:
        server.fail_rate(0.5, seed=7)
        llm, outcomes = chat("openai", server), []
        for _ in range(12):
            try:
                outcomes.append(llm.invoke("hoi").content == REPLY)
            except OpenAIAPIError:
                outcomes.append(False)
        return outcomes

    first = pattern()
    assert pattern() == first and 0 < first.count(False) < 12
    server.fail_rate(0)
    assert chat("openai", server).invoke("hoi").content == REPLY
    assert server.counts["failed"] == 2 * first.count(False)


def test_chunk_delay_spaces_the_stream() -> None:
    with FakeLLMServer(lambda messages, request: REPLY, chunk_delay=0.05) as fake:
        arrivals = [time.monotonic() for c in chat("openai", fake).stream("hoi") if c.content]
    assert arrivals[-1] - arrivals[0] >= 0.04 * (len(arrivals) - 1)


def test_models_list_parses_in_both_sdks(server: FakeLLMServer) -> None:
    oa = openai.OpenAI(base_url=server.openai_base_url, api_key="test-key", max_retries=0)
    an = anthropic.Anthropic(base_url=server.anthropic_base_url, api_key="test-key", max_retries=0)
    assert [m.id for m in oa.models.list()] == ["stub"]
    assert [m.id for m in an.models.list()] == ["stub-model"]


NOPE = "Invalid URL (POST /v1/nope)"


@pytest.mark.parametrize(("headers", "expected"), [
    ({}, {"error": {"message": NOPE, "type": "invalid_request_error", "param": None, "code": None}}),
    ({"anthropic-version": "2023-06-01"},
     {"type": "error", "error": {"type": "not_found_error", "message": NOPE}}),
])
def test_unknown_paths_get_a_provider_shaped_404(server: FakeLLMServer, headers: dict[str, str],
                                                  expected: dict[str, Any]) -> None:
    request = urllib.request.Request(server.anthropic_base_url + "/v1/nope", data=b"{}", headers=headers)
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=5)
    assert caught.value.code == 404
    body = json.loads(caught.value.read())
    body.pop("request_id", None)
    assert body == expected
    assert server.counts == {"not_found": 1}


def test_responder_errors_become_500s_and_are_kept() -> None:
    def broken(messages: list[dict[str, str]], request: dict[str, Any]) -> str:
        raise RuntimeError("stuk")

    with FakeLLMServer(broken) as fake:
        with pytest.raises(OpenAIAPIError):
            chat("openai", fake).invoke("hoi")
        assert [str(e) for e in fake.errors] == ["stuk"] and fake.counts == {"responder_error": 1}


def test_default_responder_and_wait_for_requests() -> None:
    with FakeLLMServer() as fake:
        assert chat("anthropic", fake).invoke("hoi").content == "ok"
        assert len(fake.wait_for_requests(1, timeout=1)) == 1
        with pytest.raises(TimeoutError):
            fake.wait_for_requests(2, timeout=0.1)


@pytest.mark.parametrize("text", ["", "een", "  twee woorden  ", "a b c d e f g", "regel\nnieuwe regel\n"])
def test_split_reply_joins_back(text: str) -> None:
    assert "".join(split_reply(text)) == text


def test_normalise_messages() -> None:
    body = {"system": [{"type": "text", "text": "S"}],
            "messages": [{"role": "user", "content": "U"}, {"role": "assistant", "content": [{"type": "text",
                                                                                             "text": "A"}]}]}
    assert normalise_messages("anthropic", body) == [{"role": "system", "content": "S"},
                                                     {"role": "user", "content": "U"},
                                                     {"role": "assistant", "content": "A"}]
    openai_body = {"messages": [{"role": "developer", "content": "D"}, {"role": "user", "content": "U"}]}
    assert normalise_messages("openai", openai_body)[0] == {"role": "system", "content": "D"}
