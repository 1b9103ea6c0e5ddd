"""Fake hosted-LLM providers (ASGI apps) speaking the OpenAI and Anthropic wire formats.

Serve them with :func:`tests.fakes.server.serve_in_thread`.  Behaviour is chosen by substrings of the
request's ``model``: ``fail500``, ``fail429``, ``fail400``, ``hang``, ``slow``, ``cut``,
``midstreamerror``, ``tool`` (answer with a call to the first tool when the request has tools),
``toolecho`` (that call's arguments are ``{"note": <last user text>}``) and ``inject`` (the answer
ends with an e-mail address and a card number the user never sent).
"""

from __future__ import annotations

from tests.fakes._common import FAILURE_MODES, FakeProvider, Received, UpstreamCut
from tests.fakes.providers_anthropic import DEFAULT_ANTHROPIC_MODELS, FakeAnthropic
from tests.fakes.providers_openai import DEFAULT_OPENAI_MODELS, FakeOpenAI, embedding

__all__ = [
    "DEFAULT_ANTHROPIC_MODELS",
    "DEFAULT_OPENAI_MODELS",
    "FAILURE_MODES",
    "FakeAnthropic",
    "FakeOpenAI",
    "FakeProvider",
    "Received",
    "UpstreamCut",
    "embedding",
]
