"""The body's shortcuts give what the general rule gives, over hostile bodies.

`metarr.http._parse` reads a body with orjson where `_read_quickly` proves it reads what
``json.loads`` reads (numbers of every size and precision, escapes, NaN, BOMs), and skips the
walk over every string of a parsed body (its secret scan and depth check) when
`_plainly_clean` proves from the raw bytes that the walk would find no registered secret in
any form and no nesting past `MAX_JSON_DEPTH`. These tests hold both to the general rule:
bodies made of secrets in every wire form, split across strings, escaped in the JSON or not,
with quotes and brackets inside strings, in other encodings, nested around the limit.
"""

from __future__ import annotations

import json
from typing import Any
from unittest.mock import patch

from hypothesis import example, given, settings
from hypothesis import strategies as st
from metarr import redaction
from metarr.http import MAX_JSON_DEPTH, _parse, _plainly_clean, _strings
from metarr.redaction import mask_secrets, scrub

SECRETS = {"k3yAbcd9-xyz", 'p%s/"w\\rd é€𝄞!', "a+b c=d&e"}


def _parse_general(body: bytes) -> tuple[Any, str | None]:
    """`_parse` without its shortcut: every string walked, joined and scanned."""
    try:
        parsed = json.loads(body)
    except RecursionError:
        return None, "deep"
    except (ValueError, UnicodeDecodeError) as exc:
        return None, f"body is not JSON ({type(exc).__name__})"
    texts = _strings(parsed)
    if texts is None:
        return None, f"body is nested more than {MAX_JSON_DEPTH} levels deep"
    joined = "\x00".join(texts)
    return (scrub(parsed) if mask_secrets(joined) != joined else parsed), None


def _forms(secret: str) -> st.SearchStrategy[str]:
    """The secret, whole or in pieces, each character in one of its wire forms."""

    def char(ch: str) -> st.SearchStrategy[str]:
        utf16 = ch.encode("utf-16-be")
        units = [int.from_bytes(utf16[i : i + 2], "big") for i in range(0, len(utf16), 2)]
        forms = [
            ch,
            "".join(f"%{b:02X}" for b in ch.encode()),
            "".join(f"%{b:02x}" for b in ch.encode()),
            "".join(f"\\u{u:04X}" for u in units),
            "".join(f"\\u{u:04x}" for u in units),
        ]
        if ch == " ":
            forms.append("+")
        if ch in '"\\/':
            forms.append("\\" + ch)
        return st.sampled_from(forms)

    whole = st.tuples(*(char(ch) for ch in secret)).map("".join)
    return st.one_of(whole, whole.map(lambda s: s[: len(s) // 2]), whole.map(lambda s: s[3:]))


PIECES = st.one_of(
    st.text(max_size=6),
    st.sampled_from(['"', "\\", "[", "]", "{", "}", "[[", "]]}", "%", "+", "\\u", "\x00", "é"]),
    *(_forms(secret) for secret in sorted(SECRETS)),
)
STRINGS = st.lists(PIECES, max_size=4).map("".join)


class _Number(str):
    """A JSON number written as it is: any digits, any exponent."""


NUMBERS = st.from_regex(
    r"-?(0|[1-9][0-9]{0,24})(\.[0-9]{1,24})?([eE][+-]?[0-9]{1,3})?", fullmatch=True
)
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), NUMBERS.map(_Number), STRINGS
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(STRINGS, inner, max_size=4)
    ),
    max_leaves=20,
)


@st.composite
def _json_text(draw: st.DrawFn, value: Any) -> str:
    """``value`` as JSON text, each string's every character raw or escaped as JSON allows."""
    if isinstance(value, _Number):
        return str(value)
    if isinstance(value, str):
        out = []
        for ch in value:
            if ch in '"\\' or ord(ch) < 0x20 or draw(st.integers(0, 5)) == 0:
                out.append(json.dumps(ch, ensure_ascii=draw(st.booleans()))[1:-1])
            else:
                out.append(ch)
        return '"' + "".join(out) + '"'
    if isinstance(value, list):
        return "[" + ",".join(draw(_json_text(item)) for item in value) + "]"
    if isinstance(value, dict):
        items = (f"{draw(_json_text(k))}: {draw(_json_text(v))}" for k, v in value.items())
        return "{" + ", ".join(items) + "}"
    return json.dumps(value)


@st.composite
def _bodies(draw: st.DrawFn) -> bytes:
    text = draw(_json_text(draw(VALUES)))
    depth = draw(st.sampled_from([0, 0, 1, 30, 31, 32, 33, 62, 63, 64, 65, 70]))
    opener = draw(st.sampled_from(["[", '{"k":', '[{"a":', "[1,"]))
    closer = {"[": "]", '{"k":': "}", '[{"a":': "}]", "[1,": "]"}[opener]
    layers = depth // (2 if opener == '[{"a":' else 1)
    text = opener * layers + text + closer * layers
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8", "utf-8-sig", "utf-16"]))
    return text.encode(encoding, "surrogatepass")


@given(_bodies())
@settings(max_examples=400, deadline=None)
@example(b'{"a": "k3yAbcd9", "b": "-xyz"}')  # a secret across two strings is no secret
@example(b'{"a": "k3y\\u0041bcd9-xyz"}')  # an escaped character of the secret
@example('["p%s/\\"w\\\\rd é€𝄞!"]'.encode())
@example(b'["k3yAbcd9%2Dxyz"]')
@example(b'["k3yAbcd9\\u00252Dxyz"]')  # an escaped "%" of a percent-encoded character
@example(b'["\\"", ' + b"[" * 70 + b"]" * 70 + b', "\\""]')  # escaped quotes around depth
@example(b'{"x": "][][", "y": [[[]]]}')
@example(b"[" * 64 + b"]" * 64)
@example(b"[18446744073709551616, -9223372036854775809, 9223372036854775807, 1e400, NaN]")
@example(b"[0.30000000000000004441, 2.4703282292062328e-324, 1.7976931348623159e308]")
@example(b"[" * 65 + b"]" * 65)
def test_the_shortcuts_give_what_the_general_rule_gives(body: bytes) -> None:
    with patch.object(redaction, "_registered", set(SECRETS)):
        expected = _parse_general(body)
        if expected[1] == "deep":  # deeper than json can read: either refusal will do
            return
        proven = _plainly_clean(body) if expected[1] is None else False
        got = _parse(body)
    assert repr(got) == repr(expected)
    if proven:  # the shortcut's own claim, checked on what the walk sees
        texts = _strings(json.loads(body))
        assert texts is not None
        assert all(mask_secrets(text) == text for text in texts)
