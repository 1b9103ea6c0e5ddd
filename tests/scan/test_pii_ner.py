"""The NER decoded fast (``pii_ner``): its matrix products in numpy, with one BLAS thread."""

from __future__ import annotations

from threadpoolctl import threadpool_info

from gateway.scan.model_files import load_nlp
from gateway.scan.pii_ner import use_numpy_gemm


def test_numpy_gemm_reads_the_same_entities_with_one_blas_thread() -> None:
    texts = [
        "Maria Lopez flew from Lisbon to Boston to meet the Acme Corporation team.",
        "Contact Dr. Henrik Larsen at Novo Nordisk in Copenhagen, or his assistant Aiko Tanaka.",
        "Jean-Pierre Dubois of Paris visited the European Central Bank in Frankfurt with Ana Silva.",
    ]
    blis = load_nlp()
    numpy_backed = use_numpy_gemm(load_nlp())
    assert not any(node.ops.use_blis for node in numpy_backed.get_pipe("ner").model.walk())
    for text in texts:
        expected = [(e.start, e.end, e.label_) for e in blis(text).ents]
        assert [(e.start, e.end, e.label_) for e in numpy_backed(text).ents] == expected
        assert expected  # the texts hold entities
    assert {info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"} == {1}
