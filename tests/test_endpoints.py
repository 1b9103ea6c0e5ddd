from __future__ import annotations

import pytest

from gateway.endpoints import ENDPOINTS_BY_PATH, DestinationTable
from gateway.errors import BadRequest, ModelNotFound
from gateway.settings import DestinationSettings

TABLE = DestinationTable(
    {
        "openai": DestinationSettings(
            type="openai", base_url="http://o/v1", jurisdiction="US", models=("gpt-*", "o*")
        ),
        "claude": DestinationSettings(
            type="anthropic", base_url="http://a", jurisdiction="US", models=("claude-*",)
        ),
        "local": DestinationSettings(
            type="local",
            base_url="http://l/v1",
            jurisdiction="LOCAL",
            models=("local-*", "gpt-local"),
            model="qwen3",
        ),
    }
)


@pytest.mark.parametrize(
    ("path", "model", "dest", "upstream_path", "upstream_model"),
    [
        ("/v1/chat/completions", "gpt-4o", "openai", "/chat/completions", "gpt-4o"),
        ("/v1/chat/completions", "claude-x", "claude", "/v1/messages", "claude-x"),
        ("/v1/messages", "claude-x", "claude", "/v1/messages", "claude-x"),
        ("/v1/messages", "o3", "openai", "/chat/completions", "o3"),
        ("/v1/messages", "local-big", "local", "/chat/completions", "qwen3"),
        ("/v1/embeddings", "gpt-e", "openai", "/embeddings", "gpt-e"),
        ("/v1/messages/count_tokens", "claude-x", "claude", "/v1/messages/count_tokens", "claude-x"),
    ],
)
def test_routes(path: str, model: str, dest: str, upstream_path: str, upstream_model: str) -> None:
    route = TABLE.route(ENDPOINTS_BY_PATH[path], model)
    assert (route.destination.name, route.upstream_path, route.upstream_model) == (
        dest,
        upstream_path,
        upstream_model,
    )


def test_first_matching_destination_wins() -> None:
    # "gpt-local" matches openai's "gpt-*" first: config order decides, as documented.
    assert TABLE.route(ENDPOINTS_BY_PATH["/v1/chat/completions"], "gpt-local").destination.name == "openai"


def test_globs_are_case_sensitive_and_whole() -> None:
    with pytest.raises(ModelNotFound):
        TABLE.route(ENDPOINTS_BY_PATH["/v1/chat/completions"], "GPT-4o")
    with pytest.raises(ModelNotFound):
        TABLE.route(ENDPOINTS_BY_PATH["/v1/chat/completions"], "my-gpt-4o")


def test_unknown_model_message_is_bounded_and_printable() -> None:
    with pytest.raises(ModelNotFound) as info:
        TABLE.route(ENDPOINTS_BY_PATH["/v1/chat/completions"], "x\n\x00" + "y" * 500)
    assert "\n" not in info.value.message and "\x00" not in info.value.message
    assert len(info.value.message) < 250


@pytest.mark.parametrize(
    ("path", "model"), [("/v1/embeddings", "claude-x"), ("/v1/messages/count_tokens", "gpt-4o")]
)
def test_endpoint_not_available_at_destination(path: str, model: str) -> None:
    with pytest.raises(BadRequest, match="not available"):
        TABLE.route(ENDPOINTS_BY_PATH[path], model)
