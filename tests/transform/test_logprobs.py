"""Log probabilities spell exactly the text delivered beside them: literal inputs."""

from __future__ import annotations

from gateway.transform.logprobs import align, align_completions, filter_whole, spelled


def entry(token: str, alternatives: tuple[str, ...] = ()) -> dict[str, object]:
    return {
        "token": token,
        "logprob": -0.5,
        "bytes": list(token.encode()),
        "top_logprobs": [{"token": a, "logprob": -1.0, "bytes": list(a.encode())} for a in alternatives],
    }


def redact(text: str) -> str:
    return text.replace("bob@corp.net", "[EMAIL]").replace("bob", "[NAME]")


def test_tokens_that_spell_the_delivered_text_pass_with_their_alternatives_read() -> None:
    entries = [entry("Hi", ("Hello", "bob")), entry(" there")]
    out = align(entries, "Hi there", redact)
    assert spelled(out) == "Hi there"
    assert [a["token"] for a in out[0]["top_logprobs"]] == ["Hello", "[NAME]"]
    assert out[0]["top_logprobs"][1]["bytes"] == list(b"[NAME]")


def test_tokens_of_changed_text_become_one_token_spelling_what_was_delivered() -> None:
    entries = [entry("Write"), entry(" bob"), entry("@corp"), entry(".net")]
    out = align(entries, "Write [EMAIL]", redact)
    assert out == [
        {"token": "Write [EMAIL]", "logprob": -2.0, "bytes": list(b"Write [EMAIL]"), "top_logprobs": []}
    ]
    assert align(entries, "", redact) == []  # held back: nothing delivered, no tokens


def test_unknown_fields_of_an_entry_are_read_or_left_out() -> None:
    odd = {**entry("Hi"), "note": "bob", "extra": {"x": "bob"}}
    (out,) = align([odd], "Hi", redact)
    assert out["note"] == "[NAME]" and "extra" not in out


def test_completions_columns() -> None:
    logprobs = {"tokens": ["Hi", " bob"], "token_logprobs": [-0.1, -0.2],
                "top_logprobs": [{"bob": -1}, {" x": -2}], "text_offset": [5, 7], "note": "bob"}  # fmt: skip
    kept = align_completions(logprobs, "Hi bob", redact)
    assert kept["top_logprobs"] == [{"[NAME]": -1}, {" x": -2}] and kept["note"] == "[NAME]"
    changed = align_completions(logprobs, "Hi [NAME]", redact)
    assert changed == {"tokens": ["Hi [NAME]"], "token_logprobs": [-0.1 + -0.2], "top_logprobs": [{}],
                       "text_offset": [5]}  # fmt: skip


def test_a_whole_answer_s_logprobs_spell_their_own_filtered_text() -> None:
    chat = {"content": [entry("to"), entry(" bob@corp.net")], "refusal": None}
    out = filter_whole(chat, redact)
    assert spelled(out["content"]) == "to [EMAIL]" and out["refusal"] is None
    assert filter_whole("free text bob", redact) is None  # not a logprobs shape: left out
