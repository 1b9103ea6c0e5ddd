"""Fixtures for testing the fakes: one server per fake per module, state reset for every test."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import anthropic
import httpx
import openai
import pytest

from tests.fakes.providers import FakeAnthropic, FakeOpenAI
from tests.fakes.server import serve_in_thread


@dataclass
class OpenAIEnv:
    fake: FakeOpenAI
    url: str
    client: openai.OpenAI
    http: httpx.Client


@dataclass
class AnthropicEnv:
    fake: FakeAnthropic
    url: str
    client: anthropic.Anthropic
    http: httpx.Client


@pytest.fixture(scope="module")
def openai_server() -> Iterator[tuple[FakeOpenAI, str]]:
    fake = FakeOpenAI()
    with serve_in_thread(fake) as url:
        yield fake, url


@pytest.fixture(scope="module")
def anthropic_server() -> Iterator[tuple[FakeAnthropic, str]]:
    fake = FakeAnthropic()
    with serve_in_thread(fake) as url:
        yield fake, url


@pytest.fixture
def oai(openai_server: tuple[FakeOpenAI, str]) -> Iterator[OpenAIEnv]:
    fake, url = openai_server
    fake.reset()
    fake.slow_seconds, fake.drip_interval = 30.0, 0.2
    client = openai.OpenAI(base_url=f"{url}/v1", api_key=fake.api_key, max_retries=0, timeout=10)
    with client, httpx.Client(base_url=url, timeout=10) as http:
        yield OpenAIEnv(fake, url, client, http)


@pytest.fixture
def ant(anthropic_server: tuple[FakeAnthropic, str]) -> Iterator[AnthropicEnv]:
    fake, url = anthropic_server
    fake.reset()
    fake.slow_seconds, fake.drip_interval = 30.0, 0.2
    client = anthropic.Anthropic(base_url=url, api_key=fake.api_key, max_retries=0, timeout=10)
    with client, httpx.Client(base_url=url, timeout=10) as http:
        yield AnthropicEnv(fake, url, client, http)
