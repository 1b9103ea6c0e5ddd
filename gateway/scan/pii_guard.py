"""Turns presidio's swallowed regex timeouts into failures.

presidio's ``PatternRecognizer`` catches a regex ``TimeoutError``, logs a warning
and carries on without that pattern's matches: a silent partial scan.  This
filter, installed on presidio's logger, notes such a record on the current
thread, and the detector raises after the analysis, so the engine reports
``scan_failed`` instead of "nothing found" (and never caches the partial result).
"""

from __future__ import annotations

import logging
import threading

PRESIDIO_LOGGER = "presidio-analyzer"
# presidio reads this module global at call time; its default (60 s) outlives our request deadline.
REGEX_TIMEOUT_SECONDS = 5


class RegexTimeoutGuard(logging.Filter):
    def __init__(self) -> None:
        super().__init__("regex-timeout-guard")
        self._local = threading.local()

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, TimeoutError):
            self._local.tripped = True
        return True

    def reset(self) -> None:
        self._local.tripped = False

    def tripped(self) -> bool:
        return bool(getattr(self._local, "tripped", False))

    @classmethod
    def install(cls) -> RegexTimeoutGuard:
        """Attach one guard to presidio's logger (reusing it if already there) and bound its timeouts."""
        from presidio_analyzer import pattern_recognizer

        if pattern_recognizer.REGEX_TIMEOUT_SECONDS > REGEX_TIMEOUT_SECONDS:
            pattern_recognizer.REGEX_TIMEOUT_SECONDS = REGEX_TIMEOUT_SECONDS
        logger = logging.getLogger(PRESIDIO_LOGGER)
        # A logger's filters only run for records it emits: keep warnings enabled, or the guard is blind.
        if not logger.isEnabledFor(logging.WARNING):
            logger.setLevel(logging.WARNING)
        for existing in logger.filters:
            if isinstance(existing, cls):
                return existing
        guard = cls()
        logger.addFilter(guard)
        return guard


class RegexTimedOut(RuntimeError):
    """A PII pattern timed out: the text was not fully scanned."""
