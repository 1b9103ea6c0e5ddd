"""Name gazetteers for PERSON detection, built offline from the ``faker`` package's locale data.

``faker`` (MIT) ships first- and last-name lists for ~80 locales (US census names, European,
Latin-American, Nordic, Slavic, Turkish, romanised Japanese, ...): ~25,000 first names and ~25,000
surnames in Latin script once the other scripts are set aside.  They are read from the installed
package's modules (no network, no data files of ours) once, when the detector is built.

Names that are also everyday English words ("Will", "May", "Rose", "Mark", "Street") must not count
as names on their own; :attr:`NameLists.common` holds those words: faker's English lorem word list
(~1,000 frequent words), spaCy's English stop words, and a short list of our own below.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

# Frequent words that are also given names or surnames, and calendar/title words, that faker's
# lorem list lacks.  Kept short and general: this is about English prose, not any data set.
_EXTRA_COMMON_TEXT = """
will may june april august january july march mark bill rose grace hope faith joy art guy jack van
page lane gay don sue pat dean summer autumn winter spring dawn eve ray sky river angel king queen
prince duke earl lord lady sir madam miss master major general sergeant captain doctor nurse judge
bishop pastor father mother brother sister son daughter baby love honey dear sweet star sun moon
rain storm monday tuesday wednesday thursday friday saturday sunday today tomorrow yesterday hello
hi hey thanks thank please sorry yes no ok okay dear regards best cheers team customer client user
admin support street road avenue lane drive court place square park hill bank church hall house home
office north south east west new old great grand little big long short young white black brown green
gray grey red blue gold silver stone wood woods field fields ford hunt rich price cash case cook
baker smith miller carpenter mason porter fisher hunter shepherd taylor walker turner cooper parker
christian islam jesus god english french german american british european street apartment suite
unit floor room box via rue account card number phone email address name date time chase penny cliff
glen dale heath holly ivy iris jasmine lily poppy daisy violet ruby pearl amber crystal jade opal
sandy rusty buddy chip bud spike ace rocky shadow bear wolf fox hawk august may june march worth
will
"""
_EXTRA_COMMON = _EXTRA_COMMON_TEXT.split()

# Names of software, languages and services that are surnames or towns somewhere ("Haskell features a
# type system", "Erlang is a functional language"): in the text we see, alone, they are the software.
# Not the ones that are also common given names (Julia, Ruby, Ada, Pascal, Cassandra): a first name
# alone is a person often enough.
_SOFTWARE_TEXT = """
haskell erlang kotlin scala perl elixir clojure lisp fortran cobol ocaml prolog smalltalk racket groovy
haxe delphi matlab django flask laravel symfony kubernetes docker ansible terraform grafana kibana
redis postgres postgresql mysql mariadb kafka hadoop ubuntu debian fedora linux nginx typescript
javascript golang webpack numpy pandas pytorch tensorflow keras jupyter github gitlab bitbucket jira
confluence salesforce tableau snowflake databricks airflow celery rabbitmq elasticsearch mongodb sqlite
"""
SOFTWARE = frozenset(_SOFTWARE_TEXT.split())

# Frequent place names that are also given names somewhere; alone, they are places.
_PLACE_NAMES_TEXT = """
paris london berlin madrid rome vienna sydney melbourne dallas houston austin phoenix denver orlando
jackson lincoln madison florence victoria georgia carolina virginia jordan israel india china kerry
chelsea brooklyn savannah charlotte aurora nevada dakota montana lorraine valencia sofia alexandria
adelaide regina marion eugene bristol chester lima santiago san santa salvador washington france
ireland kenya cuba oman
"""
_PLACE_NAMES = _PLACE_NAMES_TEXT.split()


@dataclass(frozen=True, slots=True)
class NameLists:
    first: frozenset[str]  # casefolded
    last: frozenset[str]
    common: frozenset[str]  # everyday words: never a name by themselves
    places: frozenset[str]
    # English dictionary words (WordNet lemmas from the spaCy model's lemmatizer tables): a capitalised
    # run made only of these ("Guilty Pleasures", "Princess Royal") is a title, not a name, unless a
    # name list or a cue says otherwise.
    dictionary: frozenset[str] = frozenset()

    def is_dictionary_word(self, word: str) -> bool:
        """``word`` (casefolded) or a crude stem of it is an English dictionary word."""
        d = self.dictionary
        if word in d:
            return True
        for suffix, replacement in (
            ("s", ""),
            ("es", ""),
            ("ies", "y"),
            ("ed", ""),
            ("ed", "e"),
            ("ing", ""),
        ):
            if word.endswith(suffix) and word[: -len(suffix)] + replacement in d:
                return True
        return False

    def is_ordinary_word(self, word: str) -> bool:
        """An everyday or dictionary word that is not also a known name: capitalised, it is not a name."""
        if word in self.common:
            return True
        return word not in self.first and word not in self.last and self.is_dictionary_word(word)

    @classmethod
    def from_faker(cls, dictionary: frozenset[str] = frozenset()) -> NameLists:
        import faker.providers.lorem.en_US as lorem
        import faker.providers.person as person
        from spacy.lang.en.stop_words import STOP_WORDS

        first: set[str] = set()
        last: set[str] = set()
        for module_info in pkgutil.iter_modules(person.__path__):
            provider = importlib.import_module(f"{person.__name__}.{module_info.name}").Provider
            for attribute in dir(provider):
                if attribute.startswith("_") or not attribute.endswith("s"):
                    continue  # the plural attributes hold the lists; the singular ones are methods
                target = first if "first" in attribute else last if "last" in attribute else None
                if target is not None:
                    target.update(_latin_names(getattr(provider, attribute)))
        common = {word.casefold() for word in lorem.Provider.word_list}
        common.update(STOP_WORDS)
        common.update(_EXTRA_COMMON)
        common.update(SOFTWARE)
        return cls(
            first=frozenset(first),
            last=frozenset(last),
            common=frozenset(common),
            places=frozenset(_PLACE_NAMES),
            dictionary=dictionary,
        )


def _latin_names(values: Any) -> Iterable[str]:
    """Casefolded single-word names in Latin script from a faker list, dict or tuple of pairs."""
    if isinstance(values, dict):
        values = list(values)
    if not isinstance(values, list | tuple | set | frozenset):
        return
    for value in values:
        if isinstance(value, tuple):
            yield from _latin_names(value)
        elif isinstance(value, str):
            word = value.strip()
            bare = word.replace("-", "").replace("'", "")
            if len(word) >= 2 and bare.isalpha() and all(ord(ch) < 0x250 for ch in bare):
                yield word.casefold()
