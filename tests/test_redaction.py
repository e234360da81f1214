"""Secrets stay out of reprs, messages and log records."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from metarr import redaction
from metarr.redaction import MASK, Secret, install_log_redaction, redact, register

SECRET = "s3cr3t-api-key-7f2a"


@pytest.fixture
def fresh_redaction(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """An empty secret registry and no log redaction installed; the log factory is restored."""
    factory = logging.getLogRecordFactory()
    logging.setLogRecordFactory(logging.LogRecord)  # another test may have installed it already
    monkeypatch.setattr(redaction, "_registered", set())
    monkeypatch.setattr(redaction, "_installed", False)
    yield
    logging.setLogRecordFactory(factory)


# -- Secret -----------------------------------------------------------------------------------


def test_secret_hides_itself() -> None:
    secret = Secret(SECRET)
    assert str(secret) == MASK == "***"
    assert repr(secret) == "Secret('***')"
    assert SECRET not in f"{secret} {secret!r} {[secret]} { ({'k': secret}) }"
    assert secret.reveal() == SECRET


def test_secrets_compare_by_value() -> None:
    assert Secret("abcd1234") == Secret("abcd1234")
    assert Secret("abcd1234") != Secret("other-value")


# -- register / redact ------------------------------------------------------------------------


@pytest.mark.usefixtures("fresh_redaction")
def test_registered_values_are_masked_everywhere() -> None:
    register(SECRET)
    text = f"GET https://api.test/x?api_key={SECRET}&again={SECRET}"
    assert redact(text) == "GET https://api.test/x?api_key=***&again=***"


@pytest.mark.usefixtures("fresh_redaction")
def test_unregistered_text_is_unchanged() -> None:
    assert redact("nothing to hide here") == "nothing to hide here"


@pytest.mark.usefixtures("fresh_redaction")
def test_short_and_empty_values_are_not_registered() -> None:
    # Masking "en" or "1" would garble every message; such values are not secrets worth hiding.
    register("", "abc", "1")
    assert redact("abc 1 en") == "abc 1 en"
    assert redact("abcdef", extra=["abc"]) == "abcdef"


@pytest.mark.usefixtures("fresh_redaction")
def test_extra_values_are_masked_without_registering() -> None:
    assert redact(f"key={SECRET}", extra=[SECRET]) == "key=***"
    assert redact(f"key={SECRET}") == f"key={SECRET}"


@pytest.mark.usefixtures("fresh_redaction")
def test_longer_secret_wins_over_its_prefix() -> None:
    register("abcd1234", "abcd1234-longer")
    assert redact("x abcd1234-longer y abcd1234") == "x *** y ***"


# -- logging ----------------------------------------------------------------------------------


@pytest.mark.usefixtures("fresh_redaction")
def test_log_records_are_masked_in_msg_and_args(caplog: pytest.LogCaptureFixture) -> None:
    register(SECRET)
    install_log_redaction()
    log = logging.getLogger("some.library")
    with caplog.at_level(logging.DEBUG):
        log.debug(f"url with key={SECRET} in msg")
        log.info("url with key=%s in args", SECRET)
        log.warning("mapping %(url)s", {"url": f"https://x.test/?k={SECRET}"})
    assert SECRET not in caplog.text
    assert [r.getMessage() for r in caplog.records] == [
        "url with key=*** in msg",
        "url with key=*** in args",
        "mapping https://x.test/?k=***",
    ]


@pytest.mark.usefixtures("fresh_redaction")
def test_secrets_in_tracebacks_are_masked(caplog: pytest.LogCaptureFixture) -> None:
    register(SECRET)
    install_log_redaction()
    log = logging.getLogger("metarr.engine")
    with caplog.at_level(logging.DEBUG):
        try:
            raise RuntimeError(f"request to https://x.test/?k={SECRET} failed")
        except RuntimeError:
            log.exception("provider raised")
    assert "RuntimeError: request to https://x.test/?k=*** failed" in caplog.text
    assert SECRET not in caplog.text


@pytest.mark.usefixtures("fresh_redaction")
def test_secrets_in_stack_info_are_masked(caplog: pytest.LogCaptureFixture) -> None:
    # stack_info shows source lines; a registered value that appears in one must be masked.
    register("marker-in-source-9c1f")
    install_log_redaction()
    with caplog.at_level(logging.INFO):
        logging.getLogger("x").info("here", stack_info=True)  # marker-in-source-9c1f
    assert "Stack (most recent call last)" in caplog.text
    assert "# ***" in caplog.text
    assert "marker-in-source-9c1f" not in caplog.text


@pytest.mark.usefixtures("fresh_redaction")
def test_badly_formatted_records_are_still_masked(caplog: pytest.LogCaptureFixture) -> None:
    register(SECRET)
    install_log_redaction()
    with caplog.at_level(logging.INFO):
        logging.getLogger("x").info(f"%d apples {SECRET}", "not a number")
    assert SECRET not in caplog.text
    assert caplog.records[0].getMessage() == "%d apples ***"


@pytest.mark.usefixtures("fresh_redaction")
def test_a_secret_registered_after_install_is_masked(caplog: pytest.LogCaptureFixture) -> None:
    install_log_redaction()
    register(SECRET)
    with caplog.at_level(logging.INFO):
        logging.getLogger("x").info("late %s", SECRET)
    assert caplog.records[0].getMessage() == "late ***"


@pytest.mark.usefixtures("fresh_redaction")
def test_records_keep_their_args_when_nothing_is_registered(
    caplog: pytest.LogCaptureFixture,
) -> None:
    install_log_redaction()
    with caplog.at_level(logging.INFO):
        logging.getLogger("x").info("count %d", 3)
    assert caplog.records[0].args == (3,)
    assert caplog.records[0].getMessage() == "count 3"


@pytest.mark.usefixtures("fresh_redaction")
def test_without_install_records_are_untouched(caplog: pytest.LogCaptureFixture) -> None:
    register(SECRET)
    with caplog.at_level(logging.INFO):
        logging.getLogger("x").info("key %s", SECRET)
    assert SECRET in caplog.text  # proves the masking above comes from the installed factory


@pytest.mark.usefixtures("fresh_redaction")
def test_install_is_idempotent(caplog: pytest.LogCaptureFixture) -> None:
    before = logging.getLogRecordFactory()
    install_log_redaction()
    installed = logging.getLogRecordFactory()
    install_log_redaction()
    assert installed is not before
    assert logging.getLogRecordFactory() is installed
    register(SECRET)
    with caplog.at_level(logging.INFO):
        logging.getLogger("x").info("key %s", SECRET)
    assert caplog.records[0].getMessage() == "key ***"
