"""Decoding spaCy's NER fast on the CPU: the same entities as ``nlp.pipe``, in less time.

``pii_nlp.run_ner`` hands this module the windows worth reading; here they are decoded in batches
(:func:`pipe_components`): the transition loop is driven from Python with the GIL held
(:func:`_greedy_parse`), each step scored without thinc's per-call machinery (:func:`_lean_step`),
and the matrix products run in numpy's BLAS (:func:`use_numpy_gemm`).  spaCy, thinc and numpy are
pinned because this reaches into the parser's internals; ``tests/scan/test_pii.py`` checks the
decoding against ``nlp.pipe``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, cast

import numpy
from spacy.language import Language
from spacy.pipeline import EntityRecognizer as SpacyNer
from spacy.tokens import Doc
from thinc.api import NumpyOps
from threadpoolctl import threadpool_limits


def pipe_components(nlp: Language, docs: Iterable[Doc]) -> Iterator[Doc]:
    stream: Iterable[Doc] = docs
    for _, component in nlp.pipeline:
        if _greedy_parser(component):
            stream = [doc for chunk in _chunks(list(stream)) for doc in _greedy_parse(component, chunk)]
            continue
        pipe: Any = getattr(component, "pipe", None)
        stream = pipe(stream, batch_size=64) if pipe is not None else map(component, stream)
    return iter(stream)


def use_numpy_gemm(nlp: Language) -> Language:
    """Run the NER's matrix products through numpy's BLAS instead of thinc's default, blis.

    On this project's machines (AVX-512 CPUs) the ``blis`` wheel picks its AVX2 kernels and pays a
    large fixed cost per call: for the NER's shapes (a few to a thousand rows of 96-288 columns) it
    is 2-5x slower than numpy's OpenBLAS, e.g. 65 against 14 us for 12x288 @ 288x288.  thinc's
    ``NumpyOps(use_blis=False)`` is the same ops with ``numpy.dot`` for ``gemm``.  The products'
    sums are ordered differently, so activations can differ in the last bits of a float32.

    OpenBLAS would run products of a hundred rows or more on a second thread that spins on the other
    core without making the product finish any sooner (twice the CPU for the same time, measured):
    numpy's BLAS is kept to one thread, for the whole process, which uses it for nothing else."""
    threadpool_limits(limits=1, user_api="blas")
    ops = NumpyOps(use_blis=False)
    for _, component in nlp.pipeline:
        model = getattr(component, "model", None)
        if model is None or not isinstance(model.ops, NumpyOps):
            continue  # another backend (a GPU): not ours to change
        for node in model.walk():
            node.ops = ops
    return nlp


def _lean_step(model: Any) -> Callable[[list[Any]], Any]:
    """``model.predict`` of spaCy's ``ParserStepModel`` (scores for a batch of parser states)
    without thinc's per-call machinery, which was half of a step's ~60 us: the same features,
    hidden layer and output layer (thinc's ``Linear``: X @ W.T + b), the same masking of classes
    the model never saw.  A model of another shape keeps its own ``predict``."""
    upper = model.vec2scores if model.attrs.get("has_upper") else None
    if upper is None or upper.name != "linear":
        return cast(Callable[[list[Any]], Any], model.predict)
    state2vec, ops = model.state2vec, upper.ops
    weights, bias = upper.get_param("W"), upper.get_param("b")
    unseen = model._class_mask == 0
    mask_unseen = bool(unseen.any())

    def step(states: list[Any]) -> Any:
        scores = ops.gemm(state2vec.predict(model.get_token_ids(states)), weights, trans2=True)
        scores += bias
        if mask_unseen:
            scores[:, unseen] = numpy.nanmin(scores)
        return scores

    return step


# Tokens decoded together: a batch costs as many steps as its longest doc, so batching shares the
# per-step cost, but the step model keeps ~1.5 KB of precomputed features per token and more
# activations besides: decoding every window of every view of an 8 KB prompt at once raised the
# engine's peak RSS by ~25 MiB; at 1024 it is unchanged and most of the speed-up stays.
GREEDY_BATCH_TOKENS = 1024


def _chunks(docs: list[Doc]) -> Iterator[list[Doc]]:
    chunk: list[Doc] = []
    size = 0
    for doc in docs:
        if chunk and size + len(doc) > GREEDY_BATCH_TOKENS:
            yield chunk
            chunk, size = [], 0
        chunk.append(doc)
        size += len(doc)
    if chunk:
        yield chunk


def _greedy_parser(component: Any) -> bool:
    """The NER (transition-based) decoding greedily on the CPU: see :func:`_greedy_parse`."""
    return (
        isinstance(component, SpacyNer)
        and component.cfg.get("beam_width", 1) == 1
        and isinstance(component.model.ops, NumpyOps)
    )


def _greedy_parse(parser: Any, docs: list[Doc]) -> list[Doc]:
    """``parser.pipe(docs)``, the same transitions and entities, ~2x faster (more on short windows).

    spaCy's greedy decoder (``Parser._parseC``) runs its transition loop without the GIL, but its
    compiled state accessors re-acquire the GIL on every call (Cython's exception checks): on one
    core, a third of the NER's time went to locking and unlocking it.  This is the same loop driven
    from Python with the GIL held throughout, one step for all docs at once: the step model scores
    every unfinished state in one matrix product and ``transition_states`` applies the best valid
    action of each (the same argmax over valid moves as ``_parseC``)."""
    if not any(len(doc) for doc in docs):
        return docs
    batch = parser.moves.init_batch(docs)
    model = parser.model.predict(docs)  # the tok2vec and precomputed first layer, as greedy_parse
    try:
        step = _lean_step(model)
        states = [state for state in batch if not state.is_final()]
        while states:
            states = parser.transition_states(states, step(states))
    finally:
        model.clear_memory()
    parser.set_annotations(docs, batch)
    return docs
