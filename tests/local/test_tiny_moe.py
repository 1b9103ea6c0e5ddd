"""The generated tiny DeepSeek-V3-architecture MoE: deterministic bytes, verified, the right shape."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import gguf
import numpy as np
import pytest

from gateway.local import tiny_moe
from gateway.local.tiny_moe import ModelIntegrityError, ensure, generate
from gateway.scan.model_files import sha256_file


def _gpt2_bytes_to_unicode() -> dict[str, int]:
    """GPT-2's byte-level alphabet, written out independently: printable character -> byte."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    chars = list(keep)
    n = 0
    for b in range(256):
        if b not in keep:
            keep.append(b)
            chars.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(keep, chars, strict=True)}


def _decode(token: str) -> bytes:
    table = _gpt2_bytes_to_unicode()
    return bytes(table[ch] for ch in token)


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tiny") / "model.gguf"
    generate(path)
    return path


@pytest.fixture(scope="module")
def reader(model: Path) -> gguf.GGUFReader:
    return gguf.GGUFReader(str(model))


def field(reader: gguf.GGUFReader, key: str) -> Any:
    assert key in reader.fields, f"{key} missing from the GGUF header"
    return reader.fields[key].contents()


# --- the bytes ----------------------------------------------------------------------------------


def test_generation_is_deterministic_and_matches_the_recorded_hash(tmp_path: Path) -> None:
    first, second = tmp_path / "a.gguf", tmp_path / "b.gguf"
    generate(first)
    generate(second)
    data = first.read_bytes()
    assert data == second.read_bytes()
    assert hashlib.sha256(data).hexdigest() == tiny_moe.SHA256
    assert sha256_file(first) == tiny_moe.SHA256
    assert 100_000 < len(data) < 2 * 1024 * 1024


# --- ensure: generate once, verify every time ----------------------------------------------------


def test_ensure_generates_once_and_reuses_the_file(tmp_path: Path) -> None:
    cache = tmp_path / "cache" / "nested"  # created on demand
    path = ensure(cache)
    assert path == cache / tiny_moe.FILE_NAME
    assert sha256_file(path) == tiny_moe.SHA256
    assert sorted(p.name for p in cache.iterdir()) == [tiny_moe.FILE_NAME]  # no partial file left
    # Backdate the file: a regeneration would give it a fresh mtime.
    os.utime(path, ns=(1_000_000_000_000_000_000, 1_000_000_000_000_000_000))
    before = path.stat()
    assert ensure(cache) == path
    after = path.stat()
    assert (after.st_mtime_ns, after.st_ino) == (before.st_mtime_ns, before.st_ino)
    assert sorted(p.name for p in cache.iterdir()) == [tiny_moe.FILE_NAME]


def test_ensure_refuses_a_tampered_cached_file(tmp_path: Path) -> None:
    path = ensure(tmp_path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError) as info:
        ensure(tmp_path)
    message = str(info.value)
    assert str(path) in message
    assert tiny_moe.SHA256 in message
    assert hashlib.sha256(data).hexdigest() in message
    rest = message.replace(str(path), "")  # names the file, not what is in it
    for content in ("RANDOM WEIGHTS", "deepseek2", "GGUF", tiny_moe.NAME):
        assert content not in rest
    assert len(message) < 400
    # It is not silently repaired either: the tampered file is still there, still refused.
    assert path.read_bytes() == bytes(data)
    with pytest.raises(ModelIntegrityError):
        ensure(tmp_path)


def test_ensure_refuses_a_truncated_cached_file(tmp_path: Path) -> None:
    path = ensure(tmp_path)
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(ModelIntegrityError, match="delete the file"):
        ensure(tmp_path)


# --- the architecture ----------------------------------------------------------------------------


def test_header_describes_a_deepseek_v3_style_moe(reader: gguf.GGUFReader) -> None:
    assert field(reader, "general.architecture") == "deepseek2"
    assert "RANDOM WEIGHTS" in field(reader, "general.name")
    arch = "deepseek2"
    assert field(reader, f"{arch}.expert_count") == 8
    assert field(reader, f"{arch}.expert_used_count") == 2
    assert field(reader, f"{arch}.expert_shared_count") == 1
    assert field(reader, f"{arch}.leading_dense_block_count") == 1
    assert field(reader, f"{arch}.expert_gating_func") == gguf.ExpertGatingFuncType.SIGMOID.value == 2
    assert field(reader, f"{arch}.expert_weights_norm") is True
    assert field(reader, f"{arch}.attention.kv_lora_rank") == 32
    assert field(reader, f"{arch}.attention.q_lora_rank") == 32
    assert field(reader, f"{arch}.block_count") == 3
    assert field(reader, "tokenizer.ggml.model") == "gpt2"
    assert field(reader, "tokenizer.ggml.pre") == "deepseek-v3"
    assert field(reader, "tokenizer.ggml.bos_token_id") == 0
    assert field(reader, "tokenizer.ggml.eos_token_id") == 1
    assert field(reader, "tokenizer.chat_template") == tiny_moe.CHAT_TEMPLATE


def test_tensors_of_mla_and_moe_layers(reader: gguf.GGUFReader) -> None:
    names = {t.name for t in reader.tensors}
    for name in (
        "token_embd.weight",
        "output.weight",
        "blk.0.ffn_gate.weight",  # the leading dense block
        "blk.1.attn_k_b.weight",
        "blk.1.attn_v_b.weight",
        "blk.1.ffn_gate_inp.weight",
        "blk.1.ffn_gate_exps.weight",
        "blk.1.exp_probs_b.bias",
        "blk.1.ffn_up_shexp.weight",
        "blk.2.ffn_down_exps.weight",
    ):
        assert name in names, name
    assert "blk.0.ffn_gate_exps.weight" not in names  # dense, not MoE
    assert "blk.1.ffn_gate.weight" not in names
    # All tensors are plain F32 (file type ALL_F32).
    assert {t.tensor_type for t in reader.tensors} == {gguf.GGMLQuantizationType.F32}
    experts = next(t for t in reader.tensors if t.name == "blk.1.ffn_gate_exps.weight")
    assert experts.data.shape[0] == 8


# --- printable output ----------------------------------------------------------------------------


def test_vocabulary_mask_allows_printable_ascii_and_merges_only() -> None:
    tokens, types, allowed = tiny_moe._vocab()
    assert len(tokens) == len(types) == len(allowed) == 4 + 256 + len(tiny_moe.MERGES)
    specials = {tiny_moe.BOS, tiny_moe.EOS, tiny_moe.USER, tiny_moe.ASSISTANT}
    assert set(tokens[:4]) == specials
    assert types[:4] == [3] * 4 and set(types[4:]) == {1}
    assert not any(allowed[:4])
    emitted = [t for t, ok in zip(tokens, allowed, strict=True) if ok]
    assert set(tokens[-len(tiny_moe.MERGES) :]) <= set(emitted)  # every merge may be emitted
    printable = {bytes([b]) for b in range(0x20, 0x7F)}
    singles = {_decode(t) for t in emitted if len(_decode(t)) == 1}
    assert singles == printable  # exactly the printable ASCII bytes, space included
    for token in emitted:
        raw = _decode(token)
        assert all(0x20 <= b < 0x7F for b in raw), token
        raw.decode("ascii")
    forbidden = [_decode(t) for t, ok in zip(tokens[4:260], allowed[4:260], strict=True) if not ok]
    assert len(forbidden) == 256 - 95
    assert all(not (0x20 <= r[0] < 0x7F) for r in forbidden)


def test_output_layer_suppresses_what_the_mask_forbids(reader: gguf.GGUFReader) -> None:
    tokens, _, allowed = tiny_moe._vocab()
    output = next(t for t in reader.tensors if t.name == "output.weight")
    weights = np.asarray(output.data).reshape(len(tokens), -1)
    bias_column = weights[:, 0]
    for i, ok in enumerate(allowed):
        if i == 1:
            continue  # end of sequence: reachable on purpose
        assert bias_column[i] == (0.0 if ok else -40.0), tokens[i]
    assert -40.0 < bias_column[1] < 1.0
    embeddings = next(t for t in reader.tensors if t.name == "token_embd.weight")
    assert np.all(np.asarray(embeddings.data).reshape(len(tokens), -1)[:, 0] == 8.0)
