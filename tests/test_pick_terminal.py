"""``search --pick`` and ``queue review`` driven through a pseudo-terminal, as a person would:
the real ``metarr`` executable against the simulator, answers typed, Ctrl-C sent as the
terminal's interrupt character."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import click
import pexpect
import pytest
from metarr.query import Query
from metarr_sim import Knobs, SimServer, World

pytestmark = pytest.mark.slow

EXECUTABLE = Path(sys.executable).with_name("metarr")
PROMPT = "q quit: "
WOTW = ["War of the Worlds", "--year", "2005"]
WOTW_KEY = Query(title="War of the Worlds", year=2005).input_key
SPIELBERG = 74  # the simulator's tmdb id of Spielberg's film


@pytest.fixture(scope="module")
def world(sim_world: World) -> World:
    """The session's world (loaded once: ≈0.6 s of CPU a load)."""
    return sim_world


@pytest.fixture
def sim(world: World) -> Iterator[SimServer]:
    with SimServer(world) as server:
        yield server


def environment(sim: SimServer, db: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("METARR_")}
    home = str(db.parent / "home")
    env.update(HOME=home, XDG_CONFIG_HOME=home, XDG_DATA_HOME=home)
    env.update(sim.settings_env(), METARR_DB=str(db))
    return env


class Terminal:
    """``metarr ARGS`` on a pseudo-terminal, 80 columns wide."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        self.child = pexpect.spawn(
            str(EXECUTABLE), list(args), env=env, encoding="utf-8", timeout=30, dimensions=(50, 80)
        )

    def answer(self, text: str) -> str:
        """Wait for the prompt, type ``text`` and Enter; returns what came before the prompt."""
        self.child.expect_exact(PROMPT)
        shown = click.unstyle(self.child.before or "")
        self.child.sendline(text)
        return shown

    def expect(self, text: str) -> str:
        self.child.expect_exact(text)
        return click.unstyle(self.child.before or "")

    def interrupt(self) -> None:
        self.child.sendintr()

    def end(self) -> tuple[int | None, str]:
        """Wait for the exit; the exit code and the rest of the screen."""
        self.child.expect(pexpect.EOF)
        rest = click.unstyle(self.child.before or "")
        self.child.close()
        return self.child.exitstatus, rest


def rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


def data_requests(sim: SimServer) -> dict[str, int]:
    totals = {
        name: sum(n for endpoint, n in counts.items() if "login" not in endpoint)
        for name, counts in sim.counts().items()
    }
    return {name: n for name, n in totals.items() if n}


def test_pick_shows_cards_re_asks_shows_details_and_commits_without_asking_again(
    sim: SimServer, tmp_path: Path
) -> None:
    db = tmp_path / "cache.sqlite"
    term = Terminal(environment(sim, db), "search", *WOTW, "--pick")
    screen = term.answer("x")
    cards = [line for line in screen.splitlines() if line.strip() and "Choose" not in line]
    assert len(cards) == 6  # two candidates, three lines each
    assert all(len(line) <= 80 for line in cards), cards
    assert re.match(r" 1  War of the Worlds \(2005\) +tmdb:\d+ +match$", cards[0])
    assert "dir. " in cards[1] and " min · " in cards[1] and "IMDb " in cards[1]
    hint = term.answer("? 2")
    assert "\nhint: type a number from 1 to 2, n, s, ? N, q or Enter" in hint
    details = term.answer("0")
    assert "directed by" in details and "cast" in details and "IMDb" in details
    assert "hint:" in term.answer("7")
    before = data_requests(sim)
    spielberg = 1 if f"tmdb:{SPIELBERG} " in cards[0] else 2
    term.child.expect_exact(PROMPT)
    term.child.sendline(str(spielberg))
    code, rest = term.end()
    assert code == 0, rest
    assert "identified" in rest and f"tmdb:{SPIELBERG}" in rest
    assert "requests   fanart 1 (1 in all)" in rest
    after = data_requests(sim)
    asked = {name: after[name] - before.get(name, 0) for name in after}
    assert {name: n for name, n in asked.items() if n} == {"fanart": 1}
    assert rows(db, "SELECT key, by, tmdb_id FROM identities") == [(WOTW_KEY, "person", SPIELBERG)]


def test_none_of_these_stays_queued_marked_reviewed(sim: SimServer, tmp_path: Path) -> None:
    db = tmp_path / "cache.sqlite"
    term = Terminal(environment(sim, db), "search", *WOTW, "--pick")
    term.answer("n")
    code, rest = term.end()
    assert code == 3, rest
    assert "stays in the queue, marked reviewed" in rest
    [(key, status, reviewed)] = rows(
        db, "SELECT key, status, reviewed_at FROM identification_queue"
    )
    assert (key, status) == (WOTW_KEY, "not_found") and reviewed
    assert rows(db, "SELECT * FROM identities") == []
    assert rows(db, "SELECT id FROM provider_cache_movies") == []


def test_search_again_with_another_year_and_choose(sim: SimServer, tmp_path: Path) -> None:
    db = tmp_path / "cache.sqlite"
    term = Terminal(environment(sim, db), "search", *WOTW, "--pick")
    term.answer("s")
    term.expect("Title [War of the Worlds]: ")
    term.child.sendline("")
    term.expect("Year [2005] (- for none): ")
    term.child.sendline("1953")
    cards = term.answer("1")
    assert "The War of the Worlds (1953)" in cards
    code, rest = term.end()
    assert code == 0, rest
    [(key, by)] = rows(db, "SELECT key, by FROM identities")
    assert (key, by) == (WOTW_KEY, "person")  # recorded for the input the person started from
    [(title, year)] = rows(db, "SELECT title, year FROM provider_cache_movies")
    assert (title, year) == ("The War of the Worlds", 1953)


@pytest.mark.parametrize("answer", ["", "q"])
def test_enter_or_q_skips_and_records_nothing(sim: SimServer, tmp_path: Path, answer: str) -> None:
    db = tmp_path / "cache.sqlite"
    term = Terminal(environment(sim, db), "search", *WOTW, "--pick")
    term.answer(answer)
    code, rest = term.end()
    assert code == 3 and "skipped: nothing recorded" in rest
    assert rows(db, "SELECT * FROM identification_queue") == []
    assert rows(db, "SELECT * FROM identities") == []


def test_ctrl_c_at_the_prompt_aborts_at_once(sim: SimServer, tmp_path: Path) -> None:
    db = tmp_path / "cache.sqlite"
    term = Terminal(environment(sim, db), "search", *WOTW, "--pick")
    term.child.expect_exact(PROMPT)
    started = time.perf_counter()
    term.interrupt()
    code, rest = term.end()
    assert code == 130 and "error: interrupted" in rest
    assert time.perf_counter() - started < 5
    assert rows(db, "SELECT * FROM identities") == []
    assert rows(db, "SELECT * FROM identification_queue") == []


def test_ctrl_c_while_the_choice_is_looked_up_writes_nothing(world: World, tmp_path: Path) -> None:
    db = tmp_path / "cache.sqlite"
    with SimServer(world, knobs={"fanart": Knobs(latency=20)}) as sim:
        term = Terminal(environment(sim, db), "search", *WOTW, "--pick")
        term.answer("1")
        deadline = time.monotonic() + 20
        while "fanart" not in data_requests(sim) and time.monotonic() < deadline:
            time.sleep(0.05)  # the choice's lookup is waiting for Fanart.tv
        assert "fanart" in data_requests(sim)
        started = time.perf_counter()
        term.interrupt()
        code, rest = term.end()
    assert code == 130, rest
    assert time.perf_counter() - started < 5
    assert rows(db, "SELECT * FROM identities") == []
    assert rows(db, "SELECT id FROM provider_cache_movies") == []
    assert rows(db, "SELECT * FROM identification_queue") == []


def test_pick_without_a_terminal_is_one_error(sim: SimServer, tmp_path: Path) -> None:
    env = environment(sim, tmp_path / "cache.sqlite")
    for args in (["search", *WOTW, "--pick"], ["queue", "review"]):
        done = subprocess.run(
            [str(EXECUTABLE), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        assert done.returncode == 2, done.stderr
        [line] = done.stderr.strip().splitlines()
        assert line.startswith("error: ") and "terminal" in line
    assert sim.total() == 0


AMBIGUOUS = ["Sabrina", "Othello", "Persuasion", "The Postman"]


def queue_up(env: dict[str, str], titles: list[str]) -> None:
    for title in titles:  # one by one: queued_at gives the order
        done = subprocess.run(
            [str(EXECUTABLE), "identify", title],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 3, done.stdout + done.stderr


def test_queue_review_walks_oldest_first_and_commits_each_choice(
    sim: SimServer, tmp_path: Path
) -> None:
    db = tmp_path / "cache.sqlite"
    env = environment(sim, db)
    queue_up(env, AMBIGUOUS)
    before = sim.total()
    term = Terminal(env, "queue", "review")
    first = term.expect(PROMPT)
    assert '[1/4] ambiguous  title:"Sabrina"' in first
    assert sim.total() == before  # the stored cards cost nothing (counted before the choice)
    term.child.sendline("1")
    second = term.answer("n")
    assert "→ identified" in second and "[2/4]" in second and "Othello" in second
    third = term.answer("")
    assert "recorded: none of these" in third and "[3/4]" in third
    term.answer("q")
    code, rest = term.end()
    assert code == 0, rest
    assert "reviewed 4 of 4: chosen 1 · none 1 · skipped 2 · left 0" in rest
    assert rows(db, "SELECT key, by FROM identities") == [('title:"Sabrina"', "person")]
    queued = {
        k: v for k, v in rows(db, "SELECT key, reviewed_at IS NOT NULL FROM identification_queue")
    }
    assert queued == {'title:"Othello"': 1, 'title:"Persuasion"': 0, 'title:"The Postman"': 0}
    # reviewed entries are left out next time, unless asked for
    term = Terminal(env, "queue", "review")
    assert "[1/2]" in term.answer("q") and "Persuasion" in str(term.child.before)
    assert term.end()[0] == 0
    term = Terminal(env, "queue", "review", "--key", 'title:"Othello"')
    assert "[1/1]" in term.answer("q")
    assert term.end()[0] == 0


def test_ctrl_c_in_a_review_keeps_what_was_chosen(sim: SimServer, tmp_path: Path) -> None:
    db = tmp_path / "cache.sqlite"
    env = environment(sim, db)
    queue_up(env, AMBIGUOUS[:3])
    term = Terminal(env, "queue", "review", "--status", "ambiguous")
    term.answer("2")
    term.answer("n")
    term.child.expect_exact(PROMPT)
    term.interrupt()
    code, rest = term.end()
    assert code == 130
    assert "interrupted; reviewed 2 of 3: chosen 1 · none 1 · skipped 0 · left 1" in rest
    assert rows(db, "SELECT key, by FROM identities") == [('title:"Sabrina"', "person")]
    assert len(rows(db, "SELECT id FROM provider_cache_movies")) == 1
    reviewed = rows(db, "SELECT key FROM identification_queue WHERE reviewed_at IS NOT NULL")
    assert reviewed == [('title:"Othello"',)]


def _readme_block(command: str) -> list[str]:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    block = readme.split(f"$ {command}\n", 1)[1].split("```", 1)[0]
    return block.rstrip("\n").splitlines()


def _in_order(expected: list[str], actual: list[str]) -> None:
    """Every README line (but the ``…`` elisions) appears on the real screen, in order."""
    rest = iter(actual)
    for line in expected:
        if line == "…":
            continue
        assert any(line == seen.rstrip() for seen in rest), f"not on the screen: {line!r}"


def test_the_readme_pick_screen_is_real(sim: SimServer, tmp_path: Path) -> None:
    term = Terminal(
        environment(sim, tmp_path / "cache.sqlite"),
        "search",
        "War of the Worlds",
        "--year",
        "2005",
        "--pick",
    )
    screen = term.answer("? 2") + PROMPT + "? 2\n"
    screen += term.answer("1") + PROMPT + "1\n"
    code, rest = term.end()
    assert code == 0
    actual = (screen + rest).replace("\r", "").splitlines()
    expected = _readme_block('metarr search "War of the Worlds" --year 2005 --pick')
    _in_order(expected, actual)
