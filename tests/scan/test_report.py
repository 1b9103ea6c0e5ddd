from __future__ import annotations

import json
import re

import pytest

from gateway.scan.engine import ScanEngine
from gateway.scan.findings import Hit
from gateway.scan.report import as_request, to_json, to_text


class Aws:
    name = "aws"

    def detect(self, text: str) -> list[Hit]:
        return [
            Hit("secret", "AWS_ACCESS_KEY_ID", m.start(), m.end(), 0.95, "aws")
            for m in re.finditer(r"AKIA[0-9A-Z]{16}", text)
        ]


class Pin:
    name = "pin"

    def detect(self, text: str) -> list[Hit]:
        return [Hit("pii", "PIN", m.start(), m.end(), 0.9, "pin") for m in re.finditer(r"\b\d{6}\b", text)]


KEY = "AKIAIOSFODNN7EXAMPLE"


def test_values_and_user_chosen_keys_are_masked() -> None:
    body = {
        "model": "gpt-4o",
        "messages": [{"role": "user", "content": "pin 123456"}],
        "metadata": {KEY: "x"},
    }
    result = ScanEngine([Aws(), Pin()]).scan("chat.completions", body)
    out = to_text("chat.completions", result, show_values=False) + json.dumps(
        to_json("chat.completions", result, show_values=False)
    )
    assert KEY not in out and "123456" not in out
    assert "metadata.<key>" in out and "<6 chars>" in out
    shown = to_text("chat.completions", result, show_values=True)
    assert KEY in shown and "123456" in shown


@pytest.mark.parametrize(
    ("raw", "endpoint"),
    [
        ("just some text", "chat.completions"),
        ('{"model": "gpt-4o", "messages": []}', "chat.completions"),
        ('{"model": "claude-x", "system": "s", "messages": []}', "messages"),
        ('{"model": "gpt-4.1", "input": "hi"}', "responses"),
        ('{"model": "text-embedding-3-small", "input": "hi"}', "embeddings"),
        ('{"model": "gpt-3.5-turbo-instruct", "prompt": "hi"}', "completions"),
        (
            '{"messages": [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t"}]}]}',
            "messages",
        ),
    ],
)
def test_as_request_guesses_the_endpoint(raw: str, endpoint: str) -> None:
    assert as_request(raw, None)[0] == endpoint
