"""Title forms everywhere: "Title (Original Title)" and "Title (a.k.a. Other)" are two names
for one film. `identify`, `batch` and the library API try each name and identify only when
exactly one movie matches across them; a form is never searched twice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from metarr import Ids, Query, SyncOrchestrator
from metarr.cli import main
from metarr_sim import SimServer
from scan.simworld import MONTPENSIER, ROSEMARY, settings

pytestmark = pytest.mark.usefixtures("quick_retries")


@pytest.mark.parametrize(
    ("title", "year", "tmdb"),
    [(MONTPENSIER, 2010, 57695), (ROSEMARY, 1976, 117258), (MONTPENSIER, None, 57695)],
)
def test_a_title_with_its_other_name_is_identified(
    sim: SimServer, tmp_path: Path, title: str, year: int | None, tmdb: int
) -> None:
    with SyncOrchestrator(settings(sim, tmp_path / "c.db")) as orc:
        outcome = orc.identify_title(title, year)
    assert outcome.status == "identified", outcome.reasons
    assert outcome.movie is not None and outcome.movie.ids.tmdb == tmdb


def test_forms_naming_two_films_are_ambiguous_never_a_guess(sim: SimServer, tmp_path: Path) -> None:
    with SyncOrchestrator(settings(sim, tmp_path / "c.db")) as orc:
        outcome = orc.identify_title("Toy Story (a.k.a. Jumanji)", 1995)
        queued = orc.queue()
    assert outcome.status == "ambiguous" and outcome.movie is None
    assert {c.ids.tmdb for c in outcome.candidates} == {862, 8844}
    assert [q.key for q in queued] == ['title:"Toy Story (a.k.a. Jumanji)" year:1995']


def test_the_cli_identify_and_batch_use_the_forms(sim: SimServer, tmp_path: Path) -> None:
    env = sim.settings_env()
    db = str(tmp_path / "c.db")
    runner = CliRunner()
    result = runner.invoke(
        main, ["--db", db, "identify", "--json", MONTPENSIER, "--year", "2010"], env=env
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["movie"]["ids"]["tmdb"] == 57695
    rows = tmp_path / "rows.jsonl"
    rows.write_text(json.dumps({"title": ROSEMARY, "year": 1976}) + "\n", encoding="utf-8")
    result = runner.invoke(main, ["--db", db, "batch", "--json", str(rows)], env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["movie"]["ids"]["tmdb"] == 117258


def test_ids_with_a_two_name_title_fit_either_name(sim: SimServer, tmp_path: Path) -> None:
    with SyncOrchestrator(settings(sim, tmp_path / "c.db")) as orc:
        fits = orc.identify(Query(ids=Ids(tmdb=57695), title=MONTPENSIER, year=2010))
        wrong = orc.identify(Query(ids=Ids(tmdb=603), title=MONTPENSIER, year=2010))
    assert fits.status == "identified", fits.reasons
    assert wrong.status == "conflict"


def test_request_cost_with_and_without_forms(sim: SimServer, tmp_path: Path) -> None:
    """Each distinct name is one search per search provider; a name that normalises to an
    earlier one ("Matrix, The" is "The Matrix") is not searched again."""
    with SyncOrchestrator(settings(sim, tmp_path / "c.db")) as orc:
        plain = orc.run(Query(title="The Princess of Montpensier", year=2010))
        plain_searches = _searches(sim)
        sim.reset_counts()
        forms = orc.run(Query(title=MONTPENSIER, year=2010, key="m2"))
        forms_searches = _searches(sim)
        sim.reset_counts()
        same = orc.run(Query(title="Matrix, The (The Matrix)", year=1999))
        same_searches = _searches(sim)
    assert plain.outcome.status == forms.outcome.status == same.outcome.status == "identified"
    assert len(plain_searches) >= 2 and set(plain_searches.values()) == {1}
    # three names: the whole string, "The Princess of Montpensier", "La princesse de Montpensier"
    assert forms_searches == {name: 3 for name in plain_searches}
    # two: the whole string and "The Matrix" (its original is the same name)
    assert same_searches == {name: 2 for name in plain_searches}
    extra = forms.requests - plain.requests
    print(f"requests per item: {plain.requests} plain, {forms.requests} with three names")
    # the extra names cost their searches and at most a cross-reference lookup each
    assert 2 * len(plain_searches) <= extra <= 4 * len(plain_searches)


def _searches(sim: SimServer) -> dict[str, int]:
    return {
        provider: sum(n for endpoint, n in counts.items() if "search" in endpoint)
        for provider, counts in sim.counts().items()
        if any("search" in endpoint for endpoint in counts)
    }
