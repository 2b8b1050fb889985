"""Tests for bot/logging_setup.py: the secret-redacting filter and configure_logging.

Output is checked as a handler formats it, tracebacks included, since that is what reaches the log.
"""

from __future__ import annotations

import io
import logging
import sys
from collections.abc import Iterator

import pytest

from bot.logging_setup import REDACTED, RedactingFilter, configure_logging

API_KEY = "test-api-key-0123456789abcdef"
DISCORD_TOKEN = "MTIzNDU2Nzg5MDEy.GhIjKl.discord-token-value"


class _Capture:
    """A logger whose only handler formats records (with tracebacks) into a string, via the filter."""

    def __init__(self, redactor: RedactingFilter, name: str) -> None:
        self.stream = io.StringIO()
        self.handler = logging.StreamHandler(self.stream)
        self.handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        self.handler.addFilter(redactor)
        self.log = logging.getLogger(name)
        self.log.propagate = False
        self.log.setLevel(logging.DEBUG)
        self.log.addHandler(self.handler)

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    def close(self) -> None:
        self.log.removeHandler(self.handler)
        self.log.propagate = True
        self.log.setLevel(logging.NOTSET)
        self.handler.close()


@pytest.fixture
def capture(request: pytest.FixtureRequest) -> Iterator[_Capture]:
    cap = _Capture(
        RedactingFilter([API_KEY, DISCORD_TOKEN]), f"test_logging_setup.{request.node.originalname}"
    )
    yield cap
    cap.close()


@pytest.fixture
def bare_capture(request: pytest.FixtureRequest) -> Iterator[_Capture]:
    """A filter that was told no secrets: only the built-in patterns apply."""
    cap = _Capture(RedactingFilter(), f"test_logging_setup.bare.{request.node.originalname}")
    yield cap
    cap.close()


def _record(msg: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("t", logging.INFO, __file__, 1, msg, args or None, None)


# -- registered secrets --------------------------------------------------------------------------


def test_registered_secrets_are_redacted_in_the_message_and_its_arguments(capture: _Capture) -> None:
    capture.log.info("key=%s token=%s", API_KEY, DISCORD_TOKEN)
    preformatted = f"inline {API_KEY} in the format string itself"  # some code does this
    capture.log.warning(preformatted)

    assert API_KEY not in capture.text
    assert DISCORD_TOKEN not in capture.text
    assert f"key={REDACTED} token={REDACTED}" in capture.text
    assert f"inline {REDACTED} in the format string itself" in capture.text


def test_a_secret_inside_an_exception_is_redacted_in_the_formatted_traceback(capture: _Capture) -> None:
    def call_api() -> None:
        raise RuntimeError(f"401 from server: invalid key {API_KEY}")

    try:
        try:
            call_api()
        except RuntimeError as exc:
            raise ValueError(f"wrapped, token was {DISCORD_TOKEN}") from exc
    except ValueError:
        capture.log.exception("request failed")

    text = capture.text
    assert "request failed" in text
    assert "Traceback (most recent call last)" in text
    assert "in call_api" in text  # the traceback is still there, only the secrets are gone
    assert f"RuntimeError: 401 from server: invalid key {REDACTED}" in text
    assert f"ValueError: wrapped, token was {REDACTED}" in text
    assert "The above exception was the direct cause" in text
    assert API_KEY not in text
    assert DISCORD_TOKEN not in text


def test_the_longest_secret_is_removed_whole_when_one_contains_another() -> None:
    redactor = RedactingFilter(["abcd", "abcd-efgh-ijkl"])
    assert redactor.redact("x abcd-efgh-ijkl y abcd z") == f"x {REDACTED} y {REDACTED} z"


def test_empty_and_very_short_secrets_are_ignored() -> None:
    # An empty secret would otherwise put the marker between every character.
    redactor = RedactingFilter(["", "ab", "xyz"])
    assert redactor.redact("about xyz and ab") == "about xyz and ab"


# -- built-in patterns (secrets nobody registered) -------------------------------------------------


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("sending Authorization: Bearer xyz", "xyz"),
        ("authorization=Bearer tok.en-123_x then more", "tok.en-123_x"),
        ("headers={'Authorization': 'Bearer sk-abc123def456ghi'}", "sk-abc123def456ghi"),
        ('{"authorization": "Bearer abc.def-ghi"}', "abc.def-ghi"),
        ("<CIMultiDict('Authorization': 'Bearer opaque-token-1')>", "opaque-token-1"),
        ("retrying with bearer QWERTY123 after 429", "QWERTY123"),
        ("OPENAI_API_KEY=sk-proj-AbCdEf123456_-xyz is set", "sk-proj-AbCdEf123456_-xyz"),
        ("key sk-0123456789abcdef was rejected", "sk-0123456789abcdef"),
    ],
)
def test_bearer_credentials_and_sk_keys_are_redacted_without_being_registered(
    bare_capture: _Capture, text: str, secret: str
) -> None:
    bare_capture.log.info("%s", text)
    assert secret not in bare_capture.text
    assert REDACTED in bare_capture.text


def test_a_bearer_credential_in_a_traceback_is_redacted_without_being_registered(
    bare_capture: _Capture,
) -> None:
    try:
        raise ConnectionError("sent headers {'Authorization': 'Bearer live-credential-42'}")
    except ConnectionError:
        bare_capture.log.exception("upload failed")
    assert "live-credential-42" not in bare_capture.text
    assert "ConnectionError: sent headers {'Authorization': '[redacted]'}" in bare_capture.text


# -- records without secrets -----------------------------------------------------------------------


def test_a_record_without_secrets_is_left_untouched() -> None:
    redactor = RedactingFilter([API_KEY, DISCORD_TOKEN])
    args = ("write", 1234, 0.5)
    record = _record("command %s in guild %d cost $%.2f", *args)

    assert redactor.filter(record) is True
    assert record.msg == "command %s in guild %d cost $%.2f"
    assert record.args == args  # still lazy %-style, not pre-formatted
    assert record.getMessage() == "command write in guild 1234 cost $0.50"


def test_the_filter_never_drops_a_record() -> None:
    redactor = RedactingFilter([API_KEY])
    assert redactor.filter(_record("plain")) is True
    assert redactor.filter(_record("has %s", API_KEY)) is True


def test_output_without_secrets_is_the_same_with_or_without_the_filter(capture: _Capture) -> None:
    plain = io.StringIO()
    handler = logging.StreamHandler(plain)
    handler.setFormatter(capture.handler.formatter)
    capture.log.addHandler(handler)  # runs after the redacting one, on the same record
    try:
        capture.log.info("synced %d commands (%s)", 3, "global")
        try:
            raise KeyError("no such model: gpt-x")
        except KeyError:
            capture.log.exception("lookup failed")
    finally:
        capture.log.removeHandler(handler)

    assert "Traceback (most recent call last)" in capture.text
    assert "KeyError: 'no such model: gpt-x'" in capture.text
    assert capture.text == plain.getvalue()


# -- gaps found in review, now fixed -----------------------------------------------------------------


@pytest.mark.parametrize(
    "credential",
    ["Bot MTIzNDU2Nzg5MDEy.GhIjKl.unregistered-token", "Basic dXNlcjpwYXNzd29yZA=="],
)
def test_other_authorization_schemes_are_redacted_without_being_registered(credential: str) -> None:
    text = f"Authorization: {credential}"
    assert credential.split()[1] not in RedactingFilter().redact(text)


def test_a_bad_format_call_does_not_raise_into_the_caller(
    capture: _Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(logging, "raiseExceptions", False)  # handleError stays quiet if it is reached
    capture.log.warning("two placeholders %s %s, one argument", "only-one")


# -- configure_logging -----------------------------------------------------------------------------


@pytest.fixture
def root_logging() -> Iterator[logging.Logger]:
    """The root logger, with its handlers and level (and discord.gateway's level) restored after."""
    root = logging.getLogger()
    gateway = logging.getLogger("discord.gateway")
    saved_handlers, saved_level, saved_gateway = list(root.handlers), root.level, gateway.level
    yield root
    for handler in list(root.handlers):
        root.removeHandler(handler)
        if handler not in saved_handlers:
            handler.close()
    for handler in saved_handlers:
        root.addHandler(handler)
    root.setLevel(saved_level)
    gateway.setLevel(saved_gateway)


def test_configure_logging_installs_exactly_one_filtered_handler(root_logging: logging.Logger) -> None:
    stray = logging.NullHandler()
    root_logging.addHandler(stray)

    redactor = configure_logging("WARNING", [API_KEY])
    again = configure_logging("WARNING", [API_KEY])  # configuring twice must not stack handlers

    assert stray not in root_logging.handlers
    assert len(root_logging.handlers) == 1
    (handler,) = root_logging.handlers
    assert isinstance(handler, logging.StreamHandler)
    assert handler.stream is sys.stderr
    assert handler.filters == [again]
    assert isinstance(redactor, RedactingFilter)
    assert root_logging.level == logging.WARNING


@pytest.mark.parametrize(
    ("level", "gateway_level"),
    [("DEBUG", logging.INFO), ("INFO", logging.INFO), ("ERROR", logging.ERROR)],
)
def test_configure_logging_keeps_the_gateway_quiet_below_info(
    root_logging: logging.Logger, level: str, gateway_level: int
) -> None:
    configure_logging(level)
    assert root_logging.level == logging.getLevelName(level)
    assert logging.getLogger("discord.gateway").level == gateway_level


def test_configured_logging_redacts_what_any_logger_writes_to_stderr(
    root_logging: logging.Logger, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("INFO", [API_KEY, DISCORD_TOKEN])
    log = logging.getLogger("bot.some.module")
    log.debug("not shown at INFO %s", API_KEY)
    log.info("token %s and header Authorization: Bearer %s", DISCORD_TOKEN, "unregistered-xyz")
    try:
        raise PermissionError(f"key {API_KEY} was refused")
    except PermissionError:
        log.exception("check failed")

    err = capsys.readouterr().err
    assert "not shown at INFO" not in err
    assert f"INFO     bot.some.module: token {REDACTED} and header Authorization: {REDACTED}" in err
    assert f"PermissionError: key {REDACTED} was refused" in err
    for secret in (API_KEY, DISCORD_TOKEN, "unregistered-xyz"):
        assert secret not in err
