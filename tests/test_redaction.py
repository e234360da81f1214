"""Secrets stay out of reprs, messages and the log records of metarr and the libraries it drives,
in every form they take on the wire; data and the host's own log records are left alone."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from urllib.parse import quote, quote_plus

import httpx
import pytest
from metarr import redaction
from metarr.redaction import (
    MASK,
    MIN_LENGTH,
    Secret,
    install_log_redaction,
    problem,
    redact,
    register,
    scrub,
)

SECRET = "s3cr3t-api-key-7f2a"
SPECIAL = "s3cr&t=K3y+/x é"  # URL-special characters, a space and a non-ASCII letter


@pytest.fixture(autouse=True)
def fresh_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """An empty secret registry for each test."""
    monkeypatch.setattr(redaction, "_registered", set())


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


# -- what a secret may be ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("", "is empty"),
        ("1999", "is 4 characters long"),
        ("abc1234", f"at least {MIN_LENGTH}"),
        ("abcd 1234", "contains whitespace"),
        ("abcd1234 ", "contains whitespace"),
        ("abcd\n1234", "control character"),
        ("abcd1234\t", "control character"),
        ("abcd\x001234", "control character"),
        ("abcd\u200b1234", "control character"),
    ],
)
def test_unusable_secrets_are_named(value: str, words: str) -> None:
    reason = problem(value)
    assert reason is not None and words in reason


@pytest.mark.parametrize("value", ["51m0mdb1", SECRET, "eyJhbGciOiJIUzI1NiJ9.e30.sig", "ключ-1234"])
def test_usable_secrets(value: str) -> None:
    assert problem(value) is None


# -- register / redact ------------------------------------------------------------------------


def test_registered_values_are_masked_everywhere() -> None:
    register(SECRET)
    text = f"GET https://api.test/x?api_key={SECRET}&again={SECRET}"
    assert redact(text) == "GET https://api.test/x?api_key=***&again=***"


def test_unregistered_text_is_unchanged() -> None:
    assert redact("nothing to hide here") == "nothing to hide here"


def test_short_and_empty_values_are_not_registered() -> None:
    # Masking "1999" or "en" would garble every message (and data): never registered.
    register("", "abc", "1999", "1234567")
    assert redact("abc 1999 1234567") == "abc 1999 1234567"
    assert redact("abcdef", extra=["abc"]) == "abcdef"


def test_extra_values_are_masked_without_registering() -> None:
    assert redact(f"key={SECRET}", extra=[SECRET]) == "key=***"
    assert redact(f"x {SECRET}") == f"x {SECRET}"


def test_longer_secret_wins_over_its_prefix() -> None:
    register("abcd1234", "abcd1234-longer")
    assert redact("x abcd1234-longer y abcd1234") == "x *** y ***"


WIRE_FORMS: dict[str, Callable[[str], str]] = {
    "as is": lambda s: s,
    "percent-encoded, upper hex": lambda s: quote(s, safe=""),
    "percent-encoded, lower hex": lambda s: _lower_hex(quote(s, safe="")),
    "form-encoded (+ for space)": lambda s: quote_plus(s, safe=""),
    "httpx query": lambda s: str(httpx.QueryParams({"apikey": s})).split("=", 1)[1],
    "JSON, ASCII escapes": lambda s: json.dumps(s, ensure_ascii=True)[1:-1],
    "JSON, escaped slash": lambda s: json.dumps(s, ensure_ascii=False)[1:-1].replace("/", "\\/"),
    "JSON \\u for every character": lambda s: "".join(f"\\u{ord(c):04x}" for c in s),
    "mixed": lambda s: s[:3] + quote(s[3:8], safe="") + s[8:],
}


def _lower_hex(text: str) -> str:
    return re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), text)


@pytest.mark.parametrize("form", list(WIRE_FORMS))
@pytest.mark.parametrize("secret", [SECRET, SPECIAL, "Tmdb K3y/Secret"])
def test_every_wire_form_is_masked(form: str, secret: str) -> None:
    register(secret)
    shown = WIRE_FORMS[form](secret)
    if form == "percent-encoded, lower hex" and "%" in shown:
        assert shown != quote(secret, safe="")  # really lower-case hex
    assert redact(f"before {shown} after") == "before *** after", shown


def test_credential_named_values_are_masked_unregistered() -> None:
    # A key given in code may be too short to register: its name still gives it away.
    assert redact("GET /x?apikey=k&i=tt0133093") == "GET /x?apikey=***&i=tt0133093"
    assert redact("GET /x?api_key=abc&language=en") == "GET /x?api_key=***&language=en"
    assert redact('{"client_key": "zz", "x": 1}') == '{"client_key": "***", "x": 1}'
    assert redact("api-key: abc") == "api-key: ***"
    assert redact("Authorization: Bearer eyJabc.def") == "Authorization: Bearer ***"
    assert redact("pin=1234") == "pin=***"


@pytest.mark.parametrize(
    "text",
    [
        "no api_key configured: set METARR_TMDB_API_KEY (or [providers.tmdb] in the config file)",
        "input_key: title:heat",
        "key=title:heat (1995)",
        "monkey: banana",
        "spin=3",
        "the token expired",
        "Bearer",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert redact(text) == text


# -- scrub: data keeps its shape and its numbers ----------------------------------------------


def test_scrub_masks_strings_and_leaves_numbers() -> None:
    register("19991231")
    body = {
        "year": 19991231,
        "votes": [19991231, 1.5, True, None],
        "echo": f"apikey={quote('19991231')}",
        "19991231": "key as a key",
        "nested": [{"text": "x19991231x"}],
    }
    assert scrub(body) is body
    assert body == {
        "year": 19991231,
        "votes": [19991231, 1.5, True, None],
        "echo": "apikey=***",
        "***": "key as a key",
        "nested": [{"text": "x***x"}],
    }


def test_scrub_without_secrets_changes_nothing() -> None:
    body = {"title": "The Matrix", "year": 1999}
    assert scrub(body) == {"title": "The Matrix", "year": 1999}


def test_scrub_survives_deep_nesting() -> None:
    register(SECRET)
    deep: list[object] = [SECRET]
    for _ in range(100_000):
        deep = [deep]
    scrub(deep)
    node: object = deep
    while isinstance(node, list) and isinstance(node[0], list):
        node = node[0]
    assert node == [MASK]


# -- logging ----------------------------------------------------------------------------------


def _record_of(logger: logging.Logger, caplog: pytest.LogCaptureFixture) -> logging.LogRecord:
    return [r for r in caplog.records if r.name == logger.name][-1]


def test_metarr_and_httpx_records_are_masked(caplog: pytest.LogCaptureFixture) -> None:
    register(SECRET)
    install_log_redaction()
    caplog.set_level(logging.DEBUG)
    for name in ("metarr.http", "httpx", "httpcore.http11", "metarr"):
        logging.getLogger(name).info("url with key=%s in args", quote(SECRET, safe=""))
        logging.getLogger(name).debug(f"url with {SECRET} in msg")
    assert SECRET not in caplog.text
    assert quote(SECRET, safe="") not in caplog.text
    assert [r.getMessage() for r in caplog.records] == [
        "url with key=*** in args",
        "url with *** in msg",
    ] * 4


def test_a_host_record_is_untouched(caplog: pytest.LogCaptureFixture) -> None:
    register(SECRET)
    install_log_redaction()
    caplog.set_level(logging.INFO)
    host = logging.getLogger("hostapp.views")
    host.info("user %s", "bob")
    host.info("their own key %s", SECRET)  # the host's business, not metarr's
    first, second = caplog.records
    assert (first.msg, first.args) == ("user %s", ("bob",))
    assert (second.msg, second.args) == ("their own key %s", (SECRET,))
    assert logging.getLogRecordFactory() is logging.LogRecord


def test_secrets_in_tracebacks_are_masked(caplog: pytest.LogCaptureFixture) -> None:
    register(SECRET)
    install_log_redaction()
    log = logging.getLogger("metarr.http")
    with caplog.at_level(logging.DEBUG):
        try:
            raise RuntimeError(f"request to https://x.test/?k={SECRET} failed")
        except RuntimeError:
            log.exception("provider raised")
    assert "RuntimeError: request to https://x.test/?k=*** failed" in caplog.text
    assert SECRET not in caplog.text


def test_secrets_in_stack_info_are_masked(caplog: pytest.LogCaptureFixture) -> None:
    # stack_info shows source lines; a registered value that appears in one must be masked.
    register("marker-in-source-9c1f")
    install_log_redaction()
    with caplog.at_level(logging.INFO):
        logging.getLogger("metarr").info("here", stack_info=True)  # marker-in-source-9c1f
    assert "Stack (most recent call last)" in caplog.text
    assert "# ***" in caplog.text
    assert "marker-in-source-9c1f" not in caplog.text


def test_badly_formatted_records_are_still_masked(caplog: pytest.LogCaptureFixture) -> None:
    register(SECRET)
    install_log_redaction()
    with caplog.at_level(logging.INFO):
        logging.getLogger("metarr").info(f"%d apples {SECRET}", "not a number")
    assert SECRET not in caplog.text
    assert caplog.records[0].getMessage() == "%d apples ***"


def test_a_secret_registered_after_install_is_masked(caplog: pytest.LogCaptureFixture) -> None:
    install_log_redaction()
    register(SECRET)
    with caplog.at_level(logging.INFO):
        logging.getLogger("httpx").info("late %s", SECRET)
    assert caplog.records[0].getMessage() == "late ***"


def test_records_keep_their_args_when_nothing_is_secret(caplog: pytest.LogCaptureFixture) -> None:
    install_log_redaction()
    with caplog.at_level(logging.INFO):
        logging.getLogger("metarr").info("count %d", 3)
    assert caplog.records[0].args == (3,)
    assert caplog.records[0].getMessage() == "count 3"


def test_loggers_created_later_are_protected_when_named(caplog: pytest.LogCaptureFixture) -> None:
    register(SECRET)
    install_log_redaction("metarr.provider.brand-new")
    with caplog.at_level(logging.INFO):
        logging.getLogger("metarr.provider.brand-new").info("key %s", SECRET)
    assert caplog.records[0].getMessage() == "key ***"


def test_install_is_idempotent_and_installs_no_factory() -> None:
    install_log_redaction()
    install_log_redaction()
    for name in redaction.DRIVEN_LOGGERS:
        filters = logging.getLogger(name).filters
        assert sum(isinstance(f, redaction.RedactingFilter) for f in filters) == 1, name
    assert logging.getLogRecordFactory() is logging.LogRecord
    assert logging.getLogger().filters == []
