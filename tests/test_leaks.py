"""The leak search on its own: every encoding a student could print is decoded, whatever its length."""
import base64
import codecs

import pytest

from grader.reports import leaks

SECRET = "require(_expected == 0.25, 'the hidden value')"


def shown(encode, secret):
    return leaks.leaks([f"my output: {encode(secret)}"], {secret: "A:a1 (hidden test)"})


# base64 pads the last group (or not, url-safe): each length modulo 3 ends differently
@pytest.mark.parametrize("extra", ["", "x", "xy"])
@pytest.mark.parametrize("encode", [
    lambda s: base64.b64encode(s.encode()).decode(),
    lambda s: base64.urlsafe_b64encode(s.encode()).decode().rstrip("="),
    lambda s: s.encode().hex(),
    lambda s: codecs.encode(s, "rot13"),
    lambda s: s[::-1],
    lambda s: s,
], ids=["base64", "urlsafe-base64", "hex", "rot13", "reversed", "plain"])
def test_an_encoded_secret_is_found(encode, extra):
    secret = SECRET + extra
    assert shown(encode, secret) == [secret]


def test_the_students_own_line_is_not_a_leak():
    assert leaks.leaks([SECRET], {SECRET: "?"}, own=[SECRET]) == []


def test_an_unrelated_page_shows_nothing():
    assert leaks.leaks(["All checks passed.", base64.b64encode(b"something else entirely").decode()],
                       {SECRET: "?"}) == []
