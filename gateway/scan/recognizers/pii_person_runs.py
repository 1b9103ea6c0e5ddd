"""Runs of capitalised tokens, where person names are looked for (``pii_person``), and the token
shapes they are made of: words, initials, titles before a name, particles inside one ("van der"),
unit words that end one ("Apt. 675"), sentence and line starts.
"""

from __future__ import annotations

from dataclasses import dataclass

from spacy.tokens import Doc, Token

from gateway.scan.pii_nlp import token_list, token_texts

_TITLES_TEXT = """
mr mrs ms miss mx dr prof professor sir dame madam mme mlle mde herr frau sr sra srta dott sig sgt
capt lt col gen rev fr
"""
_TITLES = frozenset(_TITLES_TEXT.split())
_PARTICLES_TEXT = """
van von de der den ten ter da di del della dos das du le la bin ibn al el zu af
"""
_PARTICLES = frozenset(_PARTICLES_TEXT.split())


@dataclass(frozen=True, slots=True)
class Run:
    start: int  # token indices [start, end)
    end: int
    title: bool


def is_word(token: Token) -> bool:
    return is_word_text(token.text)


def is_word_text(text: str) -> bool:
    return text[:1].isupper() and text.replace("'", "").replace("\u2019", "").isalpha() and len(text) > 1


def is_initial(token: Token) -> bool:
    return is_initial_text(token.text)


def is_initial_text(text: str) -> bool:
    return (len(text) == 1 and text.isupper()) or (len(text) == 2 and text[0].isupper() and text[1] == ".")


_UNIT_WORDS = frozenset(
    {"apt", "apartment", "suite", "ste", "unit", "flat", "floor", "room", "bldg", "building"}
)


def is_unit(doc: list[Token], i: int) -> bool:
    """``doc[i]`` is a unit word before a number ("Apt. 675", "Suite 541")."""
    if doc[i].lower_.rstrip(".") not in _UNIT_WORDS:
        return False
    j = i + 1
    if j < len(doc) and doc[j].text == ".":
        j += 1
    return j < len(doc) and doc[j].text[:1].isdigit()


def is_run_text(text: str) -> bool:
    return is_word_text(text) or is_initial_text(text)


def sentence_initial(doc: Doc, i: int) -> bool:
    if i == 0:
        return True
    previous = doc[i - 1]
    return (
        previous.is_space or "\n" in previous.whitespace_ or previous.text[-1] in ".!?:;\"'\u201c\u201d(>*-•"
    )


def line_start(doc: Doc, i: int) -> bool:
    """Token ``i`` starts a line (after optional quote marks such as "> ")."""
    j = i - 1
    while j >= 0 and doc[j].text in (">", "-", "*", "•") and not doc[j].is_space:
        j -= 1
    return j < 0 or "\n" in doc[j].text or "\n" in doc[j].whitespace_


def runs(doc: Doc) -> list[Run]:
    """Maximal runs of capitalised tokens on one line, with titles before them noted."""
    runs = []
    doc_tokens = token_list(doc)
    texts = token_texts(doc)
    i, n = 0, len(doc_tokens)
    while i < n:
        if not texts[i][:1].isupper():
            i += 1  # neither a title nor a word of a name: both are capitalised
            continue
        token = doc_tokens[i]
        title = False
        if token.lower_.rstrip(".") in _TITLES and token.text[:1].isupper() and i + 1 < n:
            nxt = doc_tokens[i + 1]
            if nxt.text == "." and i + 2 < n:
                nxt = doc_tokens[i + 2]
            if is_word(nxt) and "\n" not in token.whitespace_:
                title = True
                i = nxt.i
                token = nxt
        if not is_word(token):
            i += 1
            continue
        start, end = i, i + 1
        while end < n and "\n" not in doc_tokens[end - 1].whitespace_:
            current = doc_tokens[end]
            if is_unit(doc_tokens, end):
                break  # "Barbara Yudina Apt. 675": the address starts at the unit
            if is_run_text(texts[end]):
                end += 1
                continue
            if current.is_space and "\n" not in texts[end] and end + 1 < n and is_run_text(texts[end + 1]):
                end += 2  # "Lara  Fiorentino": a doubled space is a space token in spaCy
                continue
            # "Anne-Lotte", "ten Pas", "van der Berg": hyphens and particles inside a name, when a
            # capitalised word follows them.
            previous = doc_tokens[end - 1]
            if current.text == "-" and not previous.whitespace_ and not current.whitespace_:
                skip = 1
            else:
                skip = 0
                while end + skip < n and skip < 3 and doc_tokens[end + skip].lower_ in _PARTICLES:
                    skip += 1
            if skip and end + skip < n and is_word_text(texts[end + skip]):
                end += skip + 1
                continue
            break
        runs.append(Run(start=start, end=min(end, n), title=title))
        i = max(end, i + 1)
    return runs
