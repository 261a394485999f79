"""The chat model from settings, through LangChain's provider packages.

``openai`` covers every server that speaks the OpenAI Chat Completions API: Ollama
(``http://127.0.0.1:11434/v1``), vLLM, a llama.cpp server, hosted gateways. ``anthropic`` is
Anthropic's Messages API. The packages are imported only when a provider is configured.
"""

from __future__ import annotations

from langchain_core.language_models import BaseChatModel

from bot.settings import Settings

MAX_OUTPUT_TOKENS = 700  # five sentences with citations fit well within this


class ProviderError(RuntimeError):
    """The provider's package is missing or rejected the settings."""


def make_chat_model(settings: Settings) -> BaseChatModel | None:
    """The configured chat model, or None when no provider is set."""
    provider = settings.llm_provider
    if not provider:
        return None
    try:
        if provider == "openai":
            from langchain_openai import ChatOpenAI

            return ChatOpenAI(
                model=settings.llm_model,
                base_url=settings.llm_base_url or None,
                # local servers (Ollama, llama.cpp) want no key, but the client insists on one
                api_key=settings.llm_api_key or "not-needed",
                timeout=settings.llm_timeout_s,
                max_retries=0,  # a failed call falls back to quotes at once; no hidden waiting
                temperature=0,
                max_tokens=MAX_OUTPUT_TOKENS,
                use_responses_api=False,  # Chat Completions: what every compatible server speaks
            )
        if provider == "anthropic":
            from langchain_anthropic import ChatAnthropic

            kwargs = {"base_url": settings.llm_base_url} if settings.llm_base_url else {}
            return ChatAnthropic(
                model=settings.llm_model,
                api_key=settings.llm_api_key or "not-set",
                timeout=settings.llm_timeout_s,
                max_retries=0,
                temperature=0,
                max_tokens=MAX_OUTPUT_TOKENS,
                **kwargs,
            )
    except ImportError as exc:  # pragma: no cover - both are dependencies of the project
        raise ProviderError(f"LLM_PROVIDER={provider} needs the package {exc.name}") from exc
    raise ProviderError(f"unknown LLM_PROVIDER {provider!r}")
