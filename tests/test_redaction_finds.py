"""`contains_secret`'s quick answer (the plain values, when no other wire form can occur)
is the full scan's, and the scan of every wire form is compiled only when a text needs it."""

from __future__ import annotations

from urllib.parse import quote, quote_plus

from hypothesis import given
from hypothesis import strategies as st
from metarr.redaction import _Masker

SECRETS = frozenset({"5133e41e0f0c4f4b9d9a5f4c0d51a7e3", "s3cr&t=K3y+/x é", "ab%zz-cd-1234"})
MASKER = _Masker.of(SECRETS)
FORMS = MASKER.forms  # the full scan, for comparison

PIECES = [
    *SECRETS,
    *(quote(s, safe="") for s in SECRETS),
    *(quote_plus(s) for s in SECRETS),
    *(s[: len(s) // 2] for s in SECRETS),
    "%",
    "%2",
    "%41",
    "%e9",
    "52%",
    "+",
    "\\",
    "\\u0035",
    " ",
    "x",
    "é",
]


@given(st.lists(st.sampled_from(PIECES) | st.text(max_size=4), max_size=12).map("".join))
def test_finds_is_the_scan_of_every_wire_form(text: str) -> None:
    assert MASKER.finds(text) == (FORMS.search(text) is not None)


def compiled(masker: _Masker) -> bool:
    """Whether the masker's `forms` has been compiled (its slot is filled)."""
    try:
        object.__getattribute__(masker, "forms")
    except AttributeError:
        return False
    return True


def test_the_wire_forms_are_compiled_only_for_a_text_that_may_hold_one() -> None:
    masker = _Masker.of(SECRETS)
    body = '{"Ratings":[{"Source":"Rotten Tomatoes","Value":"52%"}],"Title":"x"}'
    assert not masker.finds(body)
    assert masker.finds(body + "5133e41e0f0c4f4b9d9a5f4c0d51a7e3")
    assert not compiled(masker)  # no text needed it
    assert masker.finds("key=%35133e41e0f0c4f4b9d9a5f4c0d51a7e3")  # its "5" percent-encoded
    assert compiled(masker)
