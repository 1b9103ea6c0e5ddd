"""The fresh-scan workload of ../shared/BENCHMARKING.md: distinct ~1 KB prompts of English prose, each
with a person's name, an e-mail address and a phone number, so that every request is scanned in full
(no scan-cache hit) and pseudonymized.  Deterministic for a given index, different for every index.
"""

from __future__ import annotations

import random

_FIRST = [
    "Maria",
    "James",
    "Aisha",
    "Lukas",
    "Sofia",
    "Daniel",
    "Priya",
    "Mateo",
    "Hannah",
    "Oliver",
    "Yuki",
    "Amara",
    "Noah",
    "Elena",
    "Samuel",
    "Chloe",
    "Ibrahim",
    "Grace",
    "Leon",
    "Fatima",
    "Victor",
    "Nora",
    "Ethan",
    "Ingrid",
    "Rafael",
    "Zoe",
    "Tomasz",
    "Leila",
    "Arjun",
    "Clara",
]
_LAST = [
    "Garcia",
    "Miller",
    "Okafor",
    "Schneider",
    "Rossi",
    "Cohen",
    "Sharma",
    "Lopez",
    "Novak",
    "Bennett",
    "Tanaka",
    "Mensah",
    "Fischer",
    "Petrova",
    "Walsh",
    "Laurent",
    "Haddad",
    "Nguyen",
    "Larsen",
    "Moreno",
    "Kowalski",
    "Hughes",
    "Duarte",
    "Becker",
    "Ali",
    "Svensson",
    "Murphy",
    "Costa",
]
_SENTENCES = (
    "The quarterly review covers revenue, churn and the hiring plan for the coming year.",
    "Our team has been comparing two vendors for the warehouse scheduling system.",
    "Several customers asked whether the new pricing applies to existing contracts.",
    "The migration to the new billing platform is planned for the second half of the month.",
    "We would like a short summary that a busy executive can read in under a minute.",
    "Please keep the tone friendly but precise, and avoid promising dates we cannot meet.",
    "The support backlog grew after the last release, mostly with questions about exports.",
    "Finance wants the figures rounded to the nearest thousand and shown per region.",
    "The pilot in the northern stores went well, although staff training took longer than planned.",
    "Legal reviewed the draft terms and suggested clearer wording in the cancellation section.",
    "Marketing will prepare a one-page overview once the product names are final.",
    "The onboarding checklist needs a step for setting up two-factor authentication.",
    "Our data team found that most of the delay comes from the nightly batch jobs.",
    "A few suppliers have moved to quarterly invoicing, which changes our cash forecast.",
    "The conference booth needs a banner, two screens and enough chairs for small meetings.",
    "We still have to decide who owns the dashboard after the reorganisation.",
)


def fresh_prompt(index: int, size: int = 1024) -> str:
    """A prompt of about ``size`` characters with one name, one e-mail address and one phone number."""
    rng = random.Random(index)
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    email = f"{first.lower()}.{last.lower()}{index % 1000}@example.org"
    phone = f"+1 415 555 {rng.randrange(10000):04d}"
    opening = (
        f"Please draft a reply to {first} {last} ({email}, {phone}) about the points below, "
        f"numbered {index}. "
    )
    sentences = list(_SENTENCES)
    rng.shuffle(sentences)
    text = opening
    for sentence in sentences:
        if len(text) + len(sentence) + 1 > size:
            break
        text += sentence + " "
    return text.strip()
