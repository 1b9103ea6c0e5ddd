"""PERSON: the speaker of a line of a chat log, written in any case.

``[09:14] antea mandić: hi, the parcel never arrived``: exported chats and support transcripts name
each speaker after a timestamp, often in lower case, where the name rules (capitalised words, or
known first and last names) see nothing.  A line that starts with a time (``[09:14]``, ``09:14:02``,
``(9:14 PM)``, after a date or not, then a dash or not) followed by one to three words and a colon
names a person, unless the words are a role ("agent", "system"), a tool or a bot ("jenkins",
"github-actions", "dependabot") or all everyday English words ("server started: ok" is a log line).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from presidio_analyzer import RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from gateway.scan.recognizers.pii_base import OwnRecognizer

_SPEAKER = re.compile(
    r"(?im)^[ \t>]*[\[(]?(?:\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}[,T ]*)?"  # an optional date before the time
    r"\d{1,2}:\d{2}(?::\d{2})?(?:[ ]?[ap]\.?m\.?)?Z?[\])]?[ \t]+(?:-[ \t]+)?"
    r"(?:<)?(?P<name>[^\W\d_][\w'\u2019.-]*(?:[ ][^\W\d_][\w'\u2019.-]*){0,2})(?:>)?[ \t]*:"
)
_ROLES_TEXT = """
agent bot system user assistant support admin me you customer operator moderator server client info
warn warning error debug trace notice fatal note host guest staff team helpdesk jenkins kubelet
systemd cron daemon ci build deploy
"""
_ROLES = frozenset(_ROLES_TEXT.split())


class ChatSpeakerRecognizer(OwnRecognizer):
    def __init__(
        self, ordinary: Callable[[str], bool] | None = None, software: frozenset[str] = frozenset()
    ) -> None:
        """``ordinary(casefolded)``: an English dictionary word; ``software``: names of tools."""
        self.ordinary = ordinary
        self.software = software
        super().__init__(supported_entities=["PERSON"], name="ChatSpeakerRecognizer")

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        results = []
        for match in _SPEAKER.finditer(text):
            name = match.group("name")
            words = [w.casefold().strip(".") for w in name.split()]
            if any(w in _ROLES or w in self.software for w in words) or re.search(r"[-_]|bot$", name):
                continue  # "jenkins", "github-actions", "dependabot": bots and tools, not people
            if self.ordinary is not None and all(self.ordinary(w) for w in words):
                continue
            results.append(self.result("PERSON", *match.span("name"), 0.6, "speaker in a chat log"))
        return results
