from __future__ import annotations

import logging
import threading

import pytest

from gateway.scan.pii_guard import PRESIDIO_LOGGER, RegexTimeoutGuard


def _timeout_record() -> logging.LogRecord:
    try:
        raise TimeoutError("regex")
    except TimeoutError as exc:
        return logging.LogRecord(
            PRESIDIO_LOGGER, logging.WARNING, __file__, 1, "timed out", None, (TimeoutError, exc, None)
        )


def test_guard_trips_on_presidio_timeout_records_per_thread(caplog: pytest.LogCaptureFixture) -> None:
    guard = RegexTimeoutGuard.install()
    assert RegexTimeoutGuard.install() is guard  # one guard, however many detectors are built
    guard.reset()
    other: list[bool] = []
    thread = threading.Thread(target=lambda: (guard.reset(), other.append(guard.tripped())))
    with caplog.at_level(logging.WARNING, logger=PRESIDIO_LOGGER):
        logging.getLogger(PRESIDIO_LOGGER).handle(_timeout_record())
    thread.start()
    thread.join()
    assert guard.tripped() and other == [False]
    guard.reset()
    assert not guard.tripped()


def test_guard_keeps_warnings_visible_to_itself() -> None:
    logger = logging.getLogger(PRESIDIO_LOGGER)
    old = logger.level
    logger.setLevel(logging.ERROR)
    try:
        RegexTimeoutGuard.install()
        assert logger.isEnabledFor(logging.WARNING)
    finally:
        logger.setLevel(old)
