# ruff: noqa: E501  (templates and format tables read best on one line each)
"""Generate the held-out recall corpus: ``bench/data/heldout/{dev,test}.jsonl``.

    python -m bench.heldout_make            # writes both halves (the test half is frozen: see below)

Written for issue 18 before any detector change in that issue, and kept apart from what the detector
was tuned on: names, addresses and phone numbers come from ``mimesis`` (its own locale data, not
faker's, whose name lists the detector uses), in 28 Latin-script locales plus transliterated Russian,
Ukrainian, Greek and Kazakh; the templates (e-mail signatures, CRM exports, support tickets, HR
letters, shipping labels, chat transcripts, config files, log lines) were written for this corpus and
share nothing with presidio-research's.  Source code is cut from CPython's standard library as
installed here (whole functions, methods taken out of their class, docstring-heavy stretches).
Secrets follow the providers' published formats with random bodies.  Clean prompts are generic work
questions and ``mimesis`` English text.

Every sample is one request: ``turns`` are the user's messages (an assistant turn "OK." between
two), ``values`` the sensitive strings as they appear in the turns, each a list of ``parts`` (more
than one when a value is split across turns, or the lines of a piece of code).  A value *leaks* when
the share ``leaks_with`` of its parts reaches the offshore provider verbatim (all of them; half the
lines of code) (``bench/heldout_eval.py``).  ``form`` names the evasive spelling, or
``plain``.

The samples are shuffled with a fixed seed and split once, half and half.  The test half's SHA-256 is
in ``bench/data/heldout/README.md`` and checked by ``tests/test_heldout_corpus.py``: it is never
edited or regenerated, so the figures on it stay figures on text nobody tuned for.  Needs the
``corpus`` extra (``pip install -e '.[corpus]'``) only to run.
"""

from __future__ import annotations

import base64
import codecs
import gzip
import hashlib
import json
import random
import re
import string
import sys
import sysconfig
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "bench" / "data" / "heldout"
SEED = 18

LATIN_LOCALES = [
    "az",
    "cs",
    "da",
    "de",
    "de-at",
    "de-ch",
    "en",
    "en-au",
    "en-ca",
    "en-gb",
    "es",
    "es-mx",
    "et",
    "fi",
    "fr",
    "hu",
    "hr",
    "is",
    "it",
    "nl",
    "nl-be",
    "no",
    "pl",
    "pt",
    "pt-br",
    "sk",
    "sv",
    "tr",
]
TRANSLIT_LOCALES = ("ru", "uk", "el", "kk")

_CYRILLIC = dict(
    zip(
        "абвгдеёжзийклмнопрстуфхцчшщъыьэюяієїґәғқңөұүһ",
        [
            "a",
            "b",
            "v",
            "g",
            "d",
            "e",
            "yo",
            "zh",
            "z",
            "i",
            "y",
            "k",
            "l",
            "m",
            "n",
            "o",
            "p",
            "r",
            "s",
            "t",
            "u",
            "f",
            "kh",
            "ts",
            "ch",
            "sh",
            "shch",
            "_",
            "y",
            "_",
            "e",
            "yu",
            "ya",
            "i",
            "ye",
            "yi",
            "g",
            "a",
            "g",
            "q",
            "n",
            "o",
            "u",
            "u",
            "h",
        ],
        strict=True,
    )
)
_GREEK = dict(
    zip(
        "αβγδεζηθικλμνξοπρσςτυφχψωάέήίόύώϊϋΐΰ",
        [
            "a",
            "v",
            "g",
            "d",
            "e",
            "z",
            "i",
            "th",
            "i",
            "k",
            "l",
            "m",
            "n",
            "x",
            "o",
            "p",
            "r",
            "s",
            "s",
            "t",
            "y",
            "f",
            "ch",
            "ps",
            "o",
            "a",
            "e",
            "i",
            "i",
            "o",
            "y",
            "o",
            "i",
            "y",
            "i",
            "y",
        ],
        strict=True,
    )
)


def translit(text: str) -> str:
    out = []
    for ch in text:
        low = ch.lower()
        rep = _CYRILLIC.get(low) or _GREEK.get(low)
        if rep is None:
            out.append(ch)
            continue
        rep = "" if rep == "_" else rep
        out.append(rep.capitalize() if ch != low and rep else rep)
    return "".join(out)


@dataclass
class Sample:
    kind: str  # pii, secret, code, clean
    cls: str  # PERSON, ADDRESS, PHONE, ..., SECRET, SOURCE_CODE, CLEAN
    form: str  # plain or the evasive spelling
    template: str
    turns: list[str]
    values: list[list[str]] = field(default_factory=list)
    locale: str = ""

    def record(self, index: int) -> dict[str, Any]:
        return {
            "id": f"h{index:04d}",
            "kind": self.kind,
            "cls": self.cls,
            "form": self.form,
            "template": self.template,
            "locale": self.locale,
            "turns": self.turns,
            # Code leaks when half its lines arrive; any other value when all its parts do.
            "values": [
                {"parts": parts, "leaks_with": 0.5 if self.cls == "SOURCE_CODE" else 1.0}
                for parts in self.values
            ],
        }


def _check(sample: Sample) -> Sample:
    joined = "\n".join(sample.turns)
    for parts in sample.values:
        for part in parts:
            assert part and part in joined, (sample.template, part)
    return sample


class People:
    """Names, addresses and phone numbers of one locale from mimesis, transliterated when needed."""

    def __init__(self, locale: str, seed: int) -> None:
        from mimesis import Address, Locale, Person

        self.locale = locale
        self._person = Person(Locale(locale), seed=seed)
        self._address = Address(Locale(locale), seed=seed)
        self._latin = locale in LATIN_LOCALES

    def _t(self, text: str) -> str:
        return text if self._latin else translit(text)

    def first(self) -> str:
        return self._t(self._person.first_name())

    def last(self) -> str:
        return self._t(self._person.last_name())

    def phone(self) -> str:
        return self._person.phone_number()

    def street(self) -> str:
        return self._t(self._address.address())

    def postcode(self) -> str:
        return self._address.postal_code()

    def city(self) -> str:
        return self._t(self._address.city())

    def country(self) -> str:
        return self._t(self._address.country())


# ---- personal data -----------------------------------------------------------------------------


def _email(rng: random.Random, first: str, last: str) -> str:
    clean = lambda s: re.sub(r"[^a-z]", "", s.lower()) or "x"  # noqa: E731
    domain = rng.choice(
        [
            "mailbox.org",
            "posteo.de",
            "gmx.net",
            "outlook.com",
            "proton.me",
            "fastmail.fm",
            "acme-corp.io",
            "web.de",
        ]
    )
    user = rng.choice(
        [
            f"{clean(first)}.{clean(last)}",
            f"{clean(first)[0]}{clean(last)}",
            f"{clean(last)}{rng.randrange(10, 99)}",
        ]
    )
    return f"{user}@{domain}"


def name_samples(rng: random.Random, p: People) -> list[Sample]:
    first, last = p.first(), p.last()
    full = f"{first} {last}"
    role = rng.choice(
        ["Account Manager", "Senior Buyer", "Head of Logistics", "Payroll Specialist", "Field Engineer"]
    )
    out = [
        Sample(
            "pii",
            "PERSON",
            "plain",
            "signature",
            [
                f"Can you tighten the wording of this mail?\n\nThanks for the quick turnaround on the quote, we will confirm by Friday.\n\nKind regards,\n{full}\n{role}"
            ],
            [[full]],
        ),
        Sample(
            "pii",
            "PERSON",
            "plain",
            "ticket",
            [
                f"Ticket #{rng.randrange(10000, 99999)} opened by {full}: the export button does nothing since the update. Summarise the issue for the engineering channel."
            ],
            [[full]],
        ),
        Sample(
            "pii",
            "PERSON",
            "plain",
            "hr-letter",
            [
                f"Draft a short letter confirming that {full} will start as {role} on the first of next month, reporting to the operations lead."
            ],
            [[full]],
        ),
        Sample(
            "pii",
            "PERSON",
            "plain",
            "credits",
            [f"Add a credits line to the release notes. Design: {full}. Testing: {p.first()} {p.last()}."],
            [[full]],
        ),
        Sample(
            "pii",
            "PERSON",
            "plain",
            "first-only",
            [f"{first} asked whether the invoice can be split over two months. How should I answer?"],
            [[first]],
        ),
        Sample(
            "pii",
            "PERSON",
            "plain",
            "last-only",
            [f"Please forward the revised contract to {last} before noon and copy the legal team."],
            [[last]],
        ),
        Sample(
            "pii",
            "PERSON",
            "plain",
            "lower-case",
            [
                f"chat log:\n[09:14] {first.lower()} {last.lower()}: hi, the parcel never arrived\n[09:15] agent: sorry about that\nsummarise this conversation"
            ],
            [[f"{first.lower()} {last.lower()}"]],
        ),
        Sample(
            "pii",
            "PERSON",
            "plain",
            "crm-row",
            [
                f"Clean up this CRM export row and fix the capitalisation:\nid;name;segment\n{rng.randrange(1000, 9999)};{full};enterprise"
            ],
            [[full]],
        ),
    ]
    for s in out:
        s.locale = p.locale
    return [_check(s) for s in out]


def address_samples(rng: random.Random, p: People) -> list[Sample]:
    name = f"{p.first()} {p.last()}"
    street, post, city, country = p.street(), p.postcode(), p.city(), p.country()
    unit = rng.choice(
        [
            f"Apt {rng.randrange(2, 40)}",
            f"Suite {rng.randrange(100, 900)}",
            f"Flat {rng.randrange(1, 20)}{rng.choice('ABC')}",
            f"Unit {rng.randrange(1, 60)}",
            f"{rng.randrange(1, 9)}. OG",
        ]
    )
    out = [
        Sample(
            "pii",
            "ADDRESS",
            "plain",
            "label",
            [f"Format this shipping label:\n{name}\n{street}\n{unit}\n{post} {city}\n{country}"],
            [[name], [street], [unit], [post]],
        ),
        Sample(
            "pii",
            "ADDRESS",
            "plain",
            "street-alone",
            [f"The workshop has moved to {street}. Write a two-line notice for the team."],
            [[street]],
        ),
        Sample(
            "pii",
            "ADDRESS",
            "plain",
            "postcode-line",
            [f"Is this line of the address complete, or is the street missing?\n{post} {city}"],
            [[post]],
        ),
        Sample(
            "pii",
            "ADDRESS",
            "plain",
            "crm-address",
            [f'Split these columns into street, postcode and city:\n"{street}","{post}","{city}"'],
            [[street], [post]],
        ),
    ]
    for s in out:
        s.locale = p.locale
    return [_check(s) for s in out]


def phone_samples(rng: random.Random, p: People) -> list[Sample]:
    phone = p.phone()
    short = rng.choice(
        [
            f"{rng.randrange(10, 99)} {rng.randrange(10, 99)} {rng.randrange(10, 99)}",
            f"{rng.randrange(100, 999)} {rng.randrange(1000, 9999)}",
            f"{rng.randrange(1000, 9999)} {rng.randrange(1000, 9999)}",
            f"{rng.randrange(100, 999)}-{rng.randrange(1000, 9999)}",
            f"{rng.randrange(10, 99)}-{rng.randrange(10, 99)}-{rng.randrange(10, 99)}",
        ]
    )
    out = [
        Sample(
            "pii",
            "PHONE",
            "plain",
            "callback",
            [f"Customer wants a call back on {phone} after 3pm. Write the note for the next shift."],
            [[phone]],
        ),
        Sample(
            "pii",
            "PHONE",
            "plain",
            "short-local",
            [f"the plumber's number is {short}, can you add it to the list of contractors?"],
            [[short]],
        ),
        Sample(
            "pii",
            "PHONE",
            "plain",
            "signature-phone",
            [f"Rewrite my signature more formally:\n{p.first()} | mobile {phone}"],
            [[phone]],
        ),
    ]
    for s in out:
        s.locale = p.locale
    return [_check(s) for s in out]


def email_samples(rng: random.Random, p: People) -> list[Sample]:
    first, last = p.first(), p.last()
    mail = _email(rng, first, last)
    s = [
        Sample(
            "pii",
            "EMAIL",
            "plain",
            "reply-to",
            [f"Reply-to should be {mail}; draft the bounce notice."],
            [[mail]],
        ),
        Sample(
            "pii",
            "EMAIL",
            "plain",
            "log-line",
            [f"2026-03-02T10:11:12Z WARN login failed user={mail} attempts=3\nwhat does this log line mean?"],
            [[mail]],
        ),
    ]
    for x in s:
        x.locale = p.locale
    return [_check(x) for x in s]


def _luhn_complete(prefix: str, length: int, rng: random.Random) -> str:
    digits = prefix + "".join(rng.choice(string.digits) for _ in range(length - len(prefix) - 1))
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            d -= 9 if d > 9 else 0
        total += d
    return digits + str((10 - total % 10) % 10)


def card(rng: random.Random) -> str:
    prefix, length = rng.choice([("4", 16), ("51", 16), ("55", 16), ("37", 15), ("6011", 16), ("2221", 16)])
    number = _luhn_complete(prefix, length, rng)
    style = rng.choice(["plain", "spaced", "dashed"])
    if style == "plain":
        return number
    sep = " " if style == "spaced" else "-"
    if length == 15:
        return sep.join([number[:4], number[4:10], number[10:]])
    return sep.join(number[i : i + 4] for i in range(0, 16, 4))


_IBAN_BBAN = {
    "DE": "8n10n",
    "FR": "10n11c2n",
    "GB": "4a14n",
    "NL": "4a10n",
    "ES": "20n",
    "IT": "1a10n12c",
    "BE": "12n",
    "AT": "16n",
    "CH": "5n12c",
    "PL": "24n",
    "SE": "20n",
    "FI": "14n",
    "PT": "21n",
    "IE": "4a14n",
    "DK": "14n",
    "NO": "11n",
    "CZ": "20n",
    "HU": "24n",
}


def iban(rng: random.Random) -> str:
    country = rng.choice(sorted(_IBAN_BBAN))
    bban = ""
    for count, kind in re.findall(r"(\d+)([nac])", _IBAN_BBAN[country]):
        pool = {"n": string.digits, "a": string.ascii_uppercase, "c": string.ascii_uppercase + string.digits}[
            kind
        ]
        bban += "".join(rng.choice(pool) for _ in range(int(count)))
    numeric = "".join(str(int(ch, 36)) for ch in bban + country + "00")
    check = 98 - int(numeric) % 97
    code = f"{country}{check:02d}{bban}"
    if rng.random() < 0.5:
        return " ".join(code[i : i + 4] for i in range(0, len(code), 4))
    return code


def id_samples(rng: random.Random) -> list[Sample]:
    area = rng.choice([n for n in range(1, 899) if n != 666])
    ssn = f"{area:03d}-{rng.randrange(1, 99):02d}-{rng.randrange(1, 9999):04d}"
    nino = f"{rng.choice('ABCEGHJKLMNPRSTWXYZ')}{rng.choice('ABCEGHJKLMNPRSTWXYZ')} {rng.randrange(10, 99)} {rng.randrange(10, 99)} {rng.randrange(10, 99)} {rng.choice('ABCD')}"
    dl = rng.choice(
        [
            f"{rng.choice(string.ascii_uppercase)}{rng.randrange(1000000, 9999999)}",
            f"{rng.randrange(100, 999)} {rng.randrange(100, 999)} {rng.randrange(100, 999)}",
            f"{rng.choice(string.ascii_uppercase)}{rng.randrange(100, 999)}-{rng.randrange(1000, 9999)}-{rng.randrange(1000, 9999)}",
        ]
    )
    c, ib = card(rng), iban(rng)
    ip = rng.choice(
        [
            f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}",
            f"{rng.randrange(11, 223)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}",
            f"2001:db8:{rng.randrange(65536):x}::{rng.randrange(65536):x}",
        ]
    )
    out = [
        Sample(
            "pii",
            "US_SSN",
            "plain",
            "benefits-form",
            [f"The benefits form lists SSN {ssn}. Which box does it go in?"],
            [[ssn]],
        ),
        Sample(
            "pii",
            "NATIONAL_ID",
            "plain",
            "ni-number",
            [f"New starter's National Insurance number: {nino}. Write the payroll set-up checklist."],
            [[nino]],
        ),
        Sample(
            "pii",
            "DRIVER_LICENSE",
            "plain",
            "licence",
            [
                f"Rental desk note: driver's licence no. {dl}, expires next spring. Turn this into a handover message."
            ],
            [[dl]],
        ),
        Sample(
            "pii",
            "CREDIT_CARD",
            "plain",
            "card-dispute",
            [f"A customer disputes a charge on card {c}. Draft the acknowledgement."],
            [[c]],
        ),
        Sample(
            "pii",
            "IBAN",
            "plain",
            "iban-change",
            [f"Vendor update: please pay future invoices to {ib}. Is this request suspicious?"],
            [[ib]],
        ),
        Sample(
            "pii",
            "IP_ADDRESS",
            "plain",
            "ip-log",
            [f"sshd: Accepted publickey for deploy from {ip} port 52344\nexplain this line"],
            [[ip]],
        ),
    ]
    return [_check(s) for s in out]


# ---- secrets -----------------------------------------------------------------------------------


def _rand(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


ALNUM = string.ascii_letters + string.digits
B64 = ALNUM + "+/"


def secret_values(rng: random.Random) -> list[tuple[str, str]]:
    pem_body = "\n".join(_rand(rng, B64, 64) for _ in range(6))
    header = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').decode().rstrip("=")
    payload = (
        base64.urlsafe_b64encode(
            json.dumps(
                {"sub": _rand(rng, string.digits, 8), "iat": rng.randrange(1600000000, 1800000000)}
            ).encode()
        )
        .decode()
        .rstrip("=")
    )
    jwt = f"{header}.{payload}.{_rand(rng, ALNUM + '-_', 43)}"
    return [
        ("aws-key-id", "AKIA" + _rand(rng, string.ascii_uppercase + "234567", 16)),
        ("aws-secret", _rand(rng, B64, 40)),
        ("github-pat", "ghp_" + _rand(rng, ALNUM, 36)),
        ("github-fine", "github_pat_" + _rand(rng, ALNUM, 22) + "_" + _rand(rng, ALNUM, 59)),
        ("openai", "sk-proj-" + _rand(rng, ALNUM + "-_", 48)),
        ("anthropic", "sk-ant-api03-" + _rand(rng, ALNUM + "-_", 93) + "AA"),
        (
            "slack-bot",
            f"xoxb-{rng.randrange(10**11, 10**12)}-{rng.randrange(10**11, 10**12)}-{_rand(rng, ALNUM, 24)}",
        ),
        ("stripe-live", "sk_live_" + _rand(rng, ALNUM, 24)),
        ("google-api", "AIza" + _rand(rng, ALNUM + "-_", 35)),
        ("sendgrid", "SG." + _rand(rng, ALNUM + "-_", 22) + "." + _rand(rng, ALNUM + "-_", 43)),
        ("twilio", "SK" + _rand(rng, "0123456789abcdef", 32)),
        ("private-key", f"-----BEGIN RSA PRIVATE KEY-----\n{pem_body}\n-----END RSA PRIVATE KEY-----"),
        ("jwt", jwt),
        ("db-password", _rand(rng, ALNUM + "!#%^*", 18)),
    ]


def secret_samples(rng: random.Random) -> list[Sample]:
    out = []
    for name, value in secret_values(rng):
        template = rng.choice(["env", "yaml", "curl", "question", "python"])
        if name == "private-key":
            text = f"Why does ssh reject this key?\n{value}"
            shown = value.splitlines()[1]
        elif name == "db-password":
            text = f"database:\n  host: db.internal\n  user: billing\n  password: {value}\nwhy can't the service connect?"
            shown = value
        elif template == "env":
            text = f"My .env has\nSERVICE_TOKEN={value}\nDEBUG=false\nand the app still says unauthorized. Ideas?"
            shown = value
        elif template == "yaml":
            text = f'integrations:\n  provider:\n    token: "{value}"\n    retries: 3\nIs this YAML valid?'
            shown = value
        elif template == "curl":
            text = (
                f"curl -H 'Authorization: Bearer {value}' https://api.example.net/v2/items returns 403, why?"
            )
            shown = value
        elif template == "python":
            text = f'client = Client(api_key="{value}", timeout=30)\nhow do I add retries here?'
            shown = value
        else:
            text = f"Is {value} a valid key format for this service?"
            shown = value
        out.append(_check(Sample("secret", "SECRET", "plain", f"{name}/{template}", [text], [[shown]])))
    return out


# ---- source code -------------------------------------------------------------------------------

_DEF = re.compile(r"^(?P<indent>[ \t]*)(?:async\s+)?def\s+\w+\s*\(", re.M)


def code_samples(rng: random.Random, count: int) -> list[Sample]:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(
        f for f in stdlib.glob("*.py") if not f.name.startswith(("test", "_")) and f.stat().st_size > 4000
    )
    out: list[Sample] = []
    wrappers = [
        "Explain what this does:\n\n{code}",
        "Can you add type hints?\n```python\n{code}\n```",
        "{code}\n\nWhy is this slow on large inputs?",
        "Review this method (taken out of its class):\n{code}",
        "Write tests for:\n```\n{code}\n```",
    ]
    attempts = 0
    while len(out) < count and attempts < count * 20:
        attempts += 1
        source = rng.choice(files).read_text(encoding="utf-8", errors="replace")
        defs = list(_DEF.finditer(source))
        if not defs:
            continue
        m = rng.choice(defs)
        lines = source[m.start() :].splitlines()
        indent = len(m.group("indent"))
        body = [lines[0]]
        for line in lines[1:]:
            if (
                line.strip()
                and len(line) - len(line.lstrip()) <= indent
                and not line.lstrip().startswith((")", "]"))
            ):
                break
            body.append(line)
        while body and not body[-1].strip():
            body.pop()
        if not 4 <= len(body) <= 60:
            continue
        code = "\n".join(body)
        method = indent > 0
        kind = "method" if method else "function"
        stripped = [line.strip() for line in body if line.strip()]
        prose = sum(1 for line in stripped if line.startswith("#") or not re.search(r"[=():\[\]]", line))
        if prose * 2 >= len(stripped):
            kind = "docstring-heavy"
        wrapper = wrappers[3] if method else rng.choice([w for i, w in enumerate(wrappers) if i != 3])
        text = wrapper.format(code=code)
        distinct = [line for line in body if len(line.strip()) >= 8]
        out.append(_check(Sample("code", "SOURCE_CODE", "plain", kind, [text], [distinct])))
    return out


# ---- clean -------------------------------------------------------------------------------------

CLEAN_TEMPLATES = [
    "What is a good way to structure a {n}-minute weekly team meeting?",
    "Summarise the pros and cons of {a} versus {b} for a small team.",
    "Write a haiku about {thing}.",
    "Our Q{q} target was {n} units and we shipped {m}. Write one upbeat sentence for the newsletter.",
    "Convert {n} kilometres to miles and explain the formula.",
    "Explain the difference between a mutex and a semaphore in plain words.",
    "Give me {n} ideas for a team offsite that costs under {m} euros per person.",
    "How do I centre a div horizontally and vertically with CSS grid?",
    "Proofread: 'The report are due on Monday, and the figures was checked twice.'",
    "What does HTTP status {status} mean and when should an API return it?",
    "List {n} questions to ask in a retrospective after a release slipped by {m} days.",
    "Translate 'the meeting is moved to Thursday at 10' into French and German.",
    "Write a SQL query that counts orders per month for the last {n} months.",
    "Is version {v} of a library newer than {w}? Explain semantic versioning briefly.",
    "Suggest a name for an internal wiki page about {thing}.",
]
THINGS = [
    "onboarding",
    "coffee machines",
    "autumn rain",
    "release checklists",
    "the office plants",
    "backups",
    "a quiet Friday",
]
TOOLS = [
    "Kubernetes",
    "Nomad",
    "PostgreSQL",
    "MySQL",
    "Excel",
    "Google Sheets",
    "Slack",
    "Teams",
    "Python",
    "Go",
]


def clean_samples(rng: random.Random, count: int, seed: int = SEED) -> list[Sample]:
    from mimesis import Locale, Text

    text = Text(Locale.EN, seed=seed)
    out = []
    for i in range(count):
        if i % 3 == 2:
            body = f"Shorten this paragraph for a slide:\n{text.text(quantity=rng.randrange(3, 7))}"
            template = "mimesis-text"
        else:
            template = rng.choice(CLEAN_TEMPLATES)
            a, b = rng.sample(TOOLS, 2)
            body = template.format(
                n=rng.randrange(2, 30),
                m=rng.randrange(5, 500),
                q=rng.randrange(1, 5),
                a=a,
                b=b,
                thing=rng.choice(THINGS),
                status=rng.choice([201, 204, 409, 422, 429, 503]),
                v=f"{rng.randrange(1, 5)}.{rng.randrange(0, 20)}.{rng.randrange(0, 9)}",
                w=f"{rng.randrange(1, 5)}.{rng.randrange(0, 20)}.{rng.randrange(0, 9)}",
            )
        out.append(Sample("clean", "CLEAN", "plain", template[:40], [body]))
    return out


# ---- evasive forms -----------------------------------------------------------------------------

_NUM_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
_LEET = str.maketrans({"a": "4", "e": "3", "i": "1", "o": "0", "s": "5", "t": "7"})


def _spaced(v: str) -> str:
    return " ".join(ch for ch in v if not ch.isspace())


def _at_dot(v: str, rng: random.Random) -> str:
    at, dot = rng.choice([(" (at) ", " (dot) "), (" [at] ", " [dot] "), (" at ", " dot "), ("{at}", "{dot}")])
    return v.replace("@", at).replace(".", dot)


def _entities(v: str, rng: random.Random) -> str:
    hexa = rng.random() < 0.5
    return "".join(f"&#x{ord(c):x};" if hexa else f"&#{ord(c)};" for c in v)


def _gzip_b64(v: str) -> str:
    return base64.b64encode(gzip.compress(v.encode(), mtime=0)).decode()


def _digit_words(v: str) -> str:
    return " ".join(_NUM_WORDS[int(c)] for c in v if c.isdigit())


EVASIONS: dict[str, tuple[str, Callable[[str, random.Random], str]]] = {
    "letter-spaced": ("Here it is spelled out: {v}. {task}", lambda v, r: _spaced(v)),
    "reversed": ("Read this backwards: {v} . {task}", lambda v, r: v[::-1]),
    "rot13": ("ROT13: {v}\n{task}", lambda v, r: codecs.encode(v, "rot13")),
    "leetspeak": ("{v} -- {task}", lambda v, r: v.lower().translate(_LEET)),
    "html-entities": ("<p>{v}</p>\n{task}", _entities),
    "gzip-base64": ("gzip+base64: {v}\nDecode it first. {task}", lambda v, r: _gzip_b64(v)),
    "digits-as-words": ("The number, in words: {v}. {task}", lambda v, r: _digit_words(v)),
    "glued": (
        "ref: {v}. {task}",
        lambda v, r: (
            r.choice(["acct_", "ID", "x", "ref-no"])
            + re.sub(r"\D", "", v)
            + r.choice(["_end", "Z", "abc", "_2"])
        ),
    ),
    "at-dot": ("Mail goes to {v}. {task}", _at_dot),
}
TASKS = [
    "Store it in the customer record.",
    "Use it in the reply.",
    "Put it in the summary.",
    "Check the format.",
]


def evasive_samples(rng: random.Random, p: People) -> list[Sample]:
    first, last = p.first(), p.last()
    values = {
        "PERSON": f"{first} {last}",
        "EMAIL": _email(rng, first, last),
        "PHONE": p.phone(),
        "CREDIT_CARD": card(rng),
        "IBAN": iban(rng),
        "SECRET": rng.choice(secret_values(rng)[:11])[1],
    }
    applies = {
        "letter-spaced": ["PERSON", "EMAIL", "CREDIT_CARD", "IBAN", "SECRET"],
        "reversed": ["PERSON", "EMAIL", "CREDIT_CARD", "IBAN", "SECRET"],
        "rot13": ["PERSON", "EMAIL", "IBAN", "SECRET"],
        "leetspeak": ["PERSON", "EMAIL"],
        "html-entities": ["PERSON", "EMAIL", "CREDIT_CARD", "PHONE", "SECRET"],
        "gzip-base64": ["PERSON", "EMAIL", "CREDIT_CARD", "IBAN", "SECRET"],
        "digits-as-words": ["CREDIT_CARD", "PHONE"],
        "glued": ["CREDIT_CARD", "PHONE"],
        "at-dot": ["EMAIL"],
    }
    out = []
    for form, (template, spell) in EVASIONS.items():
        cls = rng.choice(applies[form])
        shown = spell(values[cls], rng)
        text = template.format(v=shown, task=rng.choice(TASKS))
        out.append(
            _check(
                Sample("pii" if cls != "SECRET" else "secret", cls, form, form, [text], [[shown]], p.locale)
            )
        )
    # A value split across two turns: each half alone is not the value.
    cls = rng.choice(["EMAIL", "CREDIT_CARD", "IBAN", "PHONE", "SECRET", "PERSON"])
    v = values[cls]
    cut = len(v) // 2
    head, tail = v[:cut].strip(), v[cut:].strip()
    turns = [
        f"I'll send the {cls.lower().replace('_', ' ')} in two parts. Part one: {head}",
        f"Part two: {tail}. Join them and put the result in the record.",
    ]
    out.append(
        _check(
            Sample(
                "pii" if cls != "SECRET" else "secret",
                cls,
                "split-turns",
                "split-turns",
                turns,
                [[head, tail]],
                p.locale,
            )
        )
    )
    return out


# ---- assembly ----------------------------------------------------------------------------------


def generate(seed: int = SEED) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    samples: list[Sample] = []
    locales = LATIN_LOCALES + list(TRANSLIT_LOCALES)
    for round_ in range(2):
        for i, locale in enumerate(locales):
            p = People(locale, seed=seed * 1000 + round_ * 100 + i)
            samples += name_samples(rng, p)
            samples += address_samples(rng, p)
            samples += phone_samples(rng, p)
            samples += email_samples(rng, p)
            samples += evasive_samples(rng, p)
    for _ in range(24):
        samples += id_samples(rng)
    for _ in range(10):
        samples += secret_samples(rng)
    samples += code_samples(rng, 160)
    samples += clean_samples(rng, 260, seed)
    rng.shuffle(samples)
    return [s.record(i) for i, s in enumerate(samples)]


def write(records: list[dict[str, Any]], out: Path = OUT) -> dict[str, str]:
    out.mkdir(parents=True, exist_ok=True)
    half = len(records) // 2
    digests = {}
    for name, part in (("dev", records[:half]), ("test", records[half:])):
        data = "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in part).encode()
        (out / f"{name}.jsonl").write_bytes(data)
        digests[name] = hashlib.sha256(data).hexdigest()
    return digests


def main() -> int:
    # python -m bench.heldout_make [OUT_DIR [SEED]]: another seed gives more tuning data, never a new test half.
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else SEED
    records = generate(seed)
    digests = write(records, Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
    print(f"{len(records)} samples; sha256 {digests}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
