"""`metarr.testing.ProviderContract` catches the bugs plugin authors make, each with a message
naming it, and a scaffolded package passes its own generated tests.

The provider is the one ``metarr plugins new`` generates; the bugs are written as its authors
would write them, in a test module next to the generated one, and pytest runs both in a
subprocess (the contract is a pytest feature: its messages are what the author sees).
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from metarr.scaffold import scaffold

BUGS = '''
"""The bugs authors make, one provider (or test class) each."""

from decimal import Decimal
from typing import Any

import attrs
import metarr
from metarr import Ids, ProviderResult
from metarr_moviebuff import MoviebuffProvider
from test_provider import BASE, KEY, MATRIX
from test_provider import TestContract as Contract


class DecimalRaw(MoviebuffProvider):
    @metarr.hookimpl
    async def lookup_by_id(self, ids: Ids) -> ProviderResult | None:
        found = await super().lookup_by_id(ids)
        return found and attrs.evolve(found, raw={"movie": {"budget": Decimal("63e6")}})


class TupleRaw(MoviebuffProvider):
    @metarr.hookimpl
    async def lookup_by_id(self, ids: Ids) -> ProviderResult | None:
        found = await super().lookup_by_id(ids)
        return found and attrs.evolve(found, raw={"movie": {"genres": ("Action",)}})


class Serach(MoviebuffProvider):
    @metarr.hookimpl
    async def serach(self, query: str, year: int | None) -> list[Any]:
        return []


class Unmarked(MoviebuffProvider):
    def extract_ids(self, result: ProviderResult) -> Ids | None:
        return result.ids or None


class RatingField(MoviebuffProvider):
    @metarr.hookimpl
    def field_priority(self) -> dict[str, int]:
        return {"plot": 50, "rating": 50}


class MalformedId(MoviebuffProvider):
    @metarr.hookimpl
    def extract_ids(self, result: ProviderResult) -> Ids | None:
        return Ids(imdb="tt133093")


class DictIds(MoviebuffProvider):
    @metarr.hookimpl
    def extract_ids(self, result: ProviderResult) -> Any:
        return {"imdb": "tt0133093"}


class AsyncExtract(MoviebuffProvider):
    @metarr.hookimpl
    async def extract_ids(self, result: ProviderResult) -> Ids | None:
        return result.ids


class Bare404(MoviebuffProvider):
    def _classify(self, status: int, body: Any) -> Any:
        if status == 404:
            raise Exception("not found")
        return None


def build(context: metarr.ProviderContext) -> MoviebuffProvider:
    return MoviebuffProvider(context)


class TestDecimalRaw(Contract):
    factory = DecimalRaw


class TestTupleRaw(Contract):
    factory = TupleRaw


class TestSerach(Contract):
    factory = Serach


class TestUnmarked(Contract):
    factory = Unmarked


class TestRatingField(Contract):
    factory = RatingField


class TestMalformedId(Contract):
    factory = MalformedId


class TestDictIds(Contract):
    factory = DictIds


class TestAsyncExtract(Contract):
    factory = AsyncExtract


class TestBare404(Contract):
    factory = Bare404


class TestFunctionFactory(Contract):
    factory = build


class TestWrongUrl(Contract):
    def mock_found(self, httpx_mock: Any) -> None:
        httpx_mock.add_response(
            url=f"{BASE}/movies/tt0133093?key={KEY}", json=MATRIX, is_optional=True
        )
'''

FOUND = "test_found_result_is_typed_and_round_trips"
DECLARED = "test_declarations_and_hook_markers"
EXTRACTED = "test_extracted_ids_are_valid_and_consistent"
EXPECTED: dict[str, tuple[str, str]] = {
    "TestDecimalRaw": (
        FOUND,
        "plugin bug in moviebuff.lookup_by_id: result.raw['movie']['budget'] is a Decimal "
        "(Decimal('6.3E+7')), not a JSON value",
    ),
    "TestTupleRaw": (
        FOUND,
        "plugin bug in moviebuff.lookup_by_id: result.raw['movie']['genres'] is a tuple: JSON "
        "gives back a list (store lists)",
    ),
    "TestSerach": (
        DECLARED,
        "method serach is marked @metarr.hookimpl but there is no hook 'serach' "
        "(did you mean 'search'?)",
    ),
    "TestUnmarked": (
        DECLARED,
        "method extract_ids has no @metarr.hookimpl marker, so the core never calls it",
    ),
    "TestRatingField": (
        "test_field_priority_names_known_fields",
        "plugin bug in moviebuff.field_priority: unknown field(s) 'rating'; 'rating': did you "
        "mean 'ratings'?; the fields are title, original_title, year,",
    ),
    "TestMalformedId": (
        EXTRACTED,
        "plugin bug in moviebuff.extract_ids: raised InvalidIdError: IMDb id 'tt133093' is not "
        "'tt' followed by 7 to 10 digits",
    ),
    "TestDictIds": (
        EXTRACTED,
        "plugin bug in moviebuff.extract_ids: returned a dict, not metarr.Ids or None",
    ),
    "TestAsyncExtract": (DECLARED, "extract_ids must be a plain 'def', not 'async def'"),
    "TestBare404": (
        "test_not_found_gives_none",
        "plugin bug in moviebuff.lookup_by_id: raised Exception: not found on your API's "
        "not-found answer (mock_not_found)",
    ),
    "TestFunctionFactory": (
        DECLARED,
        "the factory build is a plain function, not a metarr.Provider subclass",
    ),
    "TestWrongUrl": (
        FOUND,
        "a request matched none of your mocks: No response can be found for GET request on "
        "https://moviebuff.test/v1/movie/tt0133093?key=test-key-moviebuff",
    ),
}


def run_pytest(
    project: Path, *args: str, python: str = sys.executable, env: dict[str, str] | None = None
) -> dict[tuple[str, str], str]:
    """Run pytest with ``python`` in ``project`` (its ``src`` importable); every test's
    failure text by (class, test), empty for a test that passed."""
    report = project / "report.xml"
    (project / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    env = {**(env or os.environ), "PYTHONPATH": str(project / "src")}
    subprocess.run(
        [
            *(python, "-m", "pytest", "-q", "-p", "no:cacheprovider"),
            *("--rootdir", str(project), "-c", str(project / "pytest.ini")),
            *(f"--junitxml={report}", *args),
        ],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    results: dict[tuple[str, str], str] = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        key = (case.get("classname", "").rsplit(".", 1)[-1], case.get("name", ""))
        texts = [
            f"{problem.get('message', '')} {problem.text or ''}"
            for problem in case
            if problem.tag in ("failure", "error")
        ]
        results[key] = results.get(key, "") + " ".join(texts)
    return results


pytestmark = pytest.mark.slow  # a pytest subprocess over 30 contract runs (about 20 s)


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], str]:
    project = scaffold("moviebuff", tmp_path_factory.mktemp("plugin") / "metarr-moviebuff")
    (project / "tests" / "test_bugs.py").write_text(BUGS, encoding="utf-8")
    return run_pytest(project, "tests")


def test_the_generated_tests_pass_as_generated(results: dict[tuple[str, str], str]) -> None:
    generated = {
        k: text for k, text in results.items() if k[0] in ("TestContract", "test_provider")
    }
    assert len(generated) == 18
    failing = {key: text for key, text in generated.items() if text}
    assert failing == {}


def failure_of(results: dict[tuple[str, str], str], bug: str) -> str:
    """The failure text of the contract test that must catch ``bug``."""
    test, _ = EXPECTED[bug]
    return " ".join(" ".join(t for (c, n), t in results.items() if (c, n) == (bug, test)).split())


@pytest.mark.parametrize("bug", sorted(EXPECTED))
def test_the_contract_names_each_bug(results: dict[tuple[str, str], str], bug: str) -> None:
    text = failure_of(results, bug)
    assert EXPECTED[bug][1] in text, f"{bug}: {text[:2000] or 'passed'}"
    assert "Traceback" not in text, "the failure is one message, not a traceback"


def test_no_bug_hides_behind_a_timeout(results: dict[tuple[str, str], str]) -> None:
    texts = " ".join(results.values())
    assert "timed out after" not in texts
    assert "takes 1 positional argument but 2 were given" not in texts
