"""Human output: aligned tables, the merged movie with provenance, outcomes and candidates.

Colour goes through `click.style`; `click.echo` drops it when the stream is not a terminal.
Everything printed is safe whatever the data holds (a title from an old cache, a provider's
error text): every table cell and line is one line without control or invisible characters
(`safe`; only metarr's own `Styled` words keep their colour codes), and JSON escapes the
characters a reader could take for a line break or that reorder text (`json_text`).
"""

from __future__ import annotations

import json
import re
import textwrap
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import click

from metarr import sanitize
from metarr.ids import Ids
from metarr.models import Candidate, Movie, Outcome, ProviderResult

if TYPE_CHECKING:
    from metarr.cache.records import CachedMovie

STATUS_COLOURS = {
    "identified": "green",
    "ok": "green",
    "enabled": "green",
    "ambiguous": "yellow",
    "not_found": "yellow",
    "conflict": "yellow",
    "rate_limited": "magenta",
    "skipped": "bright_black",
    "disabled": "bright_black",
    "blocked": "red",
    "error": "red",
    "broken": "red",
    "invalid": "red",
}
CAST_SHOWN = 5
VALUE_WIDTH = 72


class Styled(str):
    """Text metarr styled itself (colour codes around its own words): printed as it is."""

    __slots__ = ()


def style(text: str, **styles: Any) -> Styled:
    """``click.style`` of the text made `safe`."""
    return Styled(click.style(safe(text), **styles))


def safe(value: object) -> str:
    """A value as one printable line: no line break, control or invisible character (only a
    `Styled` value keeps its colour codes)."""
    if isinstance(value, Styled):
        return value
    return sanitize.one_line("" if value is None else str(value))


def styled_status(status: str, width: int = 0) -> Styled:
    """A status word in its colour, padded to ``width``."""
    text = style(status, fg=STATUS_COLOURS.get(status), bold=status == "identified")
    return Styled(text + " " * max(0, width - len(click.unstyle(text))))


def json_text(data: Any, *, indent: int | None = None) -> str:
    """JSON of plain data (or of models, through the converter), with every character that
    could break or reorder a line (C1 controls, U+2028, bidi and zero-width characters, lone
    surrogates) escaped: the values are the same, the text is safe to print and to split."""
    from metarr.convert import to_json  # the converter (cattrs) only when JSON is printed

    # Models go through the converter as json meets them: plain data is not walked twice.
    return _escaped(json.dumps(data, ensure_ascii=False, indent=indent, default=to_json))


def json_line(data: Any) -> str:
    """`json_text` as one compact line without spaces after ``,`` and ``:`` (the lines of
    `scan` and `batch`, which hold whole movie records), written by orjson (four times as
    fast as `json`), or by `json` for what orjson refuses (a lone surrogate, an integer
    beyond 64 bits, a key that is not text)."""
    import orjson

    from metarr.convert import to_json

    try:
        # dates and times go to the converter, as `json` sends them
        raw = orjson.dumps(data, default=to_json, option=orjson.OPT_PASSTHROUGH_DATETIME)
        text = raw.decode()
    except TypeError:
        text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=to_json)
    return _escaped(text)


# `sanitize.HIDDEN` as one character class (its "\r\n" alternative aside, which JSON text never
# holds raw): six times faster to search than the alternation.
HIDDEN_CHARS = re.compile(
    "[" + "".join(part[1:-1] for part in sanitize.HIDDEN.pattern.split("|")[1:]) + "]"
)


def _escaped(text: str) -> str:
    """JSON text with its hidden characters escaped (`escape_hidden`); json escapes what is
    below 0x20 in strings, so ASCII text without DEL has none to escape."""
    if text.isascii() and "\x7f" not in text:
        return text
    return HIDDEN_CHARS.sub(escape_hidden, text)


def escape_hidden(match: re.Match[str]) -> str:
    """A hidden character matched in JSON text, as its JSON escape (a surrogate pair beyond
    U+FFFF); the ASCII ones JSON text holds raw only as its own layout stay."""
    char = match[0]
    if char < "\x7f":
        return char
    code = ord(char)
    if code > 0xFFFF:
        code -= 0x10000
        return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
    return f"\\u{code:04x}"


def echo_json(data: Any) -> None:
    """Print pretty JSON on stdout (`json_text`)."""
    click.echo(json_text(data, indent=2))


def echo_jsonl(data: Any) -> None:
    """Print one compact JSON line on stdout (`json_text`)."""
    click.echo(json_text(data))


def _visible(text: str) -> int:
    return len(click.unstyle(text))


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], *, indent: int = 0) -> str:
    """Rows as aligned columns under bold headers (none if all are empty); every cell is
    made `safe`, and `Styled` cells keep their alignment."""
    cells = [[safe(value) for value in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        for i, value in enumerate(row):
            widths[i] = max(widths[i], _visible(value))
    pad = " " * indent

    def line(values: Sequence[str]) -> str:
        parts = [v + " " * (widths[i] - _visible(v)) for i, v in enumerate(values)]
        return (pad + "  ".join(parts)).rstrip()

    head = [line([style(h, bold=True) for h in headers])] if any(headers) else []
    return "\n".join([*head, *(line(row) for row in cells)])


def label(title: str | None, year: int | None) -> str:
    """``Title (Year)``, safe to print."""
    return safe(f"{title or '(untitled)'}" + (f" ({year})" if year else ""))


def ids_text(ids: Ids) -> str:
    """``tmdb:603 imdb:tt0133093``."""
    return str(ids)


def shorten(text: str, width: int) -> str:
    """The text on one `safe` line, cut to ``width`` with an ellipsis."""
    flat = safe(text)
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def movie_lines(movie: Movie) -> list[str]:
    """The merged movie: each field with the provider that gave it, then the collections."""
    prov = movie.provenance
    rows: list[tuple[str, str, str]] = []
    for kind, id_value in movie.ids.items():
        rows.append((f"{kind} id", str(id_value), prov.get(f"ids.{kind}", "")))
    scalars: list[tuple[str, object]] = [
        ("title", movie.title),
        ("original_title", movie.original_title),
        ("year", movie.year),
        ("release_date", movie.release_date),
        ("runtime", f"{movie.runtime} min" if movie.runtime else None),
        ("content_rating", movie.content_rating),
        ("genres", ", ".join(movie.genres) if movie.genres else None),
        ("tagline", movie.tagline),
        ("collection", movie.collection),
        ("awards", movie.awards),
        ("outline", movie.outline),
        ("plot", movie.plot),
    ]
    for field, value in scalars:
        if value not in (None, ""):
            rows.append((field, shorten(str(value), VALUE_WIDTH), prov.get(field, "")))
    for rating in movie.ratings:
        votes = f" ({rating.votes:,} votes)" if rating.votes else ""
        rows.append(
            (f"rating {rating.source}", f"{rating.value:g}/{rating.max:g}{votes}", rating.provider)
        )
    images: dict[str, Counter[str]] = {}
    for image in movie.images:
        images.setdefault(image.kind, Counter())[image.provider] += 1
    for image_kind, counts in images.items():
        by = ", ".join(f"{name} {n}" for name, n in counts.most_common())
        rows.append((f"images {image_kind}", f"{sum(counts.values())}", by))
    for actor in movie.cast[:CAST_SHOWN]:
        role = f" as {actor.character}" if actor.character else ""
        rows.append(("cast", f"{actor.name}{role}", actor.provider))
    if len(movie.cast) > CAST_SHOWN:
        rows.append(("cast", f"… and {len(movie.cast) - CAST_SHOWN} more", ""))
    directors = [c for c in movie.crew if c.job.casefold() == "director"]
    for member in directors[:3]:
        rows.append(("director", member.name, member.provider))
    head = style(label(movie.title, movie.year), bold=True) + "  " + ids_text(movie.ids)
    ordered = [(field, source, value) for field, value, source in rows]
    return [head, table(("field", "from", "value"), ordered, indent=2)]


def providers_line(statuses: Mapping[str, str]) -> str:
    """``tmdb ok · omdb ok · fanart disabled``."""
    return " · ".join(f"{name} {styled_status(status)}" for name, status in statuses.items())


def requests_line(counts: Mapping[str, int]) -> str:
    """``tmdb 2 · omdb 1 (3 in all)``, or ``none``."""
    total = sum(counts.values())
    if not total:
        return "none"
    parts = " · ".join(f"{name} {n}" for name, n in sorted(counts.items()) if n)
    return f"{parts} ({total} in all)"


def outcome_lines(
    outcome: Outcome, *, requests: Mapping[str, int] | None = None, explain: bool = False
) -> list[str]:
    """An outcome for a person: status, the movie or the candidates, providers and reasons."""
    lines = [f"{click.style('outcome', bold=True)}    {styled_status(outcome.status)}"]
    if outcome.movie is not None:
        lines.append("")
        lines.extend(movie_lines(outcome.movie))
    if outcome.candidates:
        lines.append("")
        lines.append(click.style("candidates", bold=True))
        lines.append(candidates_table(outcome.candidates, explain=explain, indent=2))
    lines.append("")
    if outcome.providers:
        lines.append(f"{click.style('providers', bold=True)}  {providers_line(outcome.providers)}")
    if requests is not None:
        lines.append(f"{click.style('requests', bold=True)}   {requests_line(requests)}")
    if outcome.reasons:
        lines.append(click.style("reasons", bold=True))
        lines.extend(f"  - {safe(reason)}" for reason in outcome.reasons)
    return lines


def candidates_table(
    candidates: Sequence[Candidate], *, explain: bool = False, indent: int = 0
) -> str:
    """Candidates as a numbered table; ``explain`` adds the score components and notes."""
    headers: list[str] = ["#", "title", "year", "ids", "providers", "match"]
    if explain:
        headers += ["score", "title dist", "year dist", "notes"]
    rows = []
    for number, candidate in enumerate(candidates, start=1):
        row: list[Any] = [
            number,
            shorten(candidate.title, 50),
            candidate.year or "",
            ids_text(candidate.ids),
            ",".join(candidate.providers),
            style("yes", fg="green") if candidate.matches else "no",
        ]
        if explain:
            comps = candidate.components
            row += [
                "" if candidate.score is None else f"{candidate.score:.3f}",
                _num(comps.get("title")),
                _num(comps.get("year")),
                "; ".join(candidate.notes),
            ]
        rows.append(row)
    return table(headers, rows, indent=indent)


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


def result_data(result: ProviderResult) -> dict[str, Any]:
    """A provider result as JSON data without its raw bodies."""
    from metarr.convert import to_json

    data: dict[str, Any] = to_json(result)
    data.pop("raw", None)
    return data


CARD_WIDTH = 80


def candidate_card(number: int, candidate: Candidate, *, width: int = CARD_WIDTH) -> list[str]:
    """A candidate as three lines of at most ``width`` columns: the number, title, its first
    id and the verdict; the facts that tell films apart (release date, runtime,
    directors, IMDb rating, popularity); the first cast names and the outline."""
    verdict = style("   match", fg="green") if candidate.matches else style("no match", fg="yellow")
    first = next(iter(candidate.ids.items()), None)
    right = Styled(f"{first[0]}:{first[1]}  {verdict}" if first else verdict)
    head = f"{number:>2}  "
    name = label(candidate.title, candidate.year)
    if candidate.original_title and candidate.original_title != candidate.title:
        name += f" [{safe(candidate.original_title)}]"
    room = width - len(head) - _visible(right) - 2
    title = style(shorten(name, max(room, 10)), bold=True)
    gap = " " * max(2, width - len(head) - _visible(title) - _visible(right))
    lines = [head + title + gap + right]
    facts = [
        str(candidate.release_date or candidate.year or ""),
        f"{candidate.runtime} min" if candidate.runtime else "",
        "dir. " + ", ".join(candidate.directors) if candidate.directors else "",
        imdb_text(candidate),
        f"pop {candidate.popularity:.1f}" if candidate.popularity is not None else "",
    ]
    people = ", ".join(candidate.cast)
    about = " — ".join(part for part in (people, safe(candidate.outline or "")) if part)
    pad = " " * len(head)
    for text in (" · ".join(f for f in facts if f), about):
        if text:
            lines.append(pad + shorten(text, width - len(pad)))
    return lines


def imdb_text(candidate: Candidate, *, votes_word: bool = False) -> str:
    """``IMDb 6.4 (89,517)`` (``votes_word``: ``(89,517 votes)``), or "" when unknown."""
    if candidate.imdb_rating is None:
        return ""
    word = " votes" if votes_word else ""
    votes = f" ({candidate.imdb_votes:,}{word})" if candidate.imdb_votes else ""
    return f"IMDb {candidate.imdb_rating:g}{votes}"


def candidate_cards(
    candidates: Sequence[Candidate], *, width: int = CARD_WIDTH, indent: int = 0
) -> str:
    """Numbered cards (`candidate_card`), one after the other, ``width`` columns in all."""
    pad = " " * indent
    return "\n".join(
        pad + line
        for number, candidate in enumerate(candidates, start=1)
        for line in candidate_card(number, candidate, width=width - indent)
    )


def candidate_details(candidate: Candidate, *, width: int = CARD_WIDTH) -> list[str]:
    """Everything known about one candidate, a field a line (long text wrapped)."""
    verdict = "match" if candidate.matches else "no match"
    rows: list[tuple[str, object]] = [
        ("ids", ids_text(candidate.ids)),
        ("original title", candidate.original_title),
        ("released", candidate.release_date or candidate.year),
        ("runtime", f"{candidate.runtime} min" if candidate.runtime else None),
        ("directed by", ", ".join(candidate.directors)),
        ("cast", ", ".join(candidate.cast)),
        ("IMDb", imdb_text(candidate, votes_word=True).removeprefix("IMDb ")),
        ("popularity", candidate.popularity),
        ("poster", candidate.poster),
        ("providers", ", ".join(candidate.providers)),
        ("verdict", f"{verdict}: {'; '.join(candidate.notes)}" if candidate.notes else verdict),
        ("outline", candidate.outline),
    ]
    lines: list[str] = [style(label(candidate.title, candidate.year), bold=True)]
    for name, value in rows:
        if value in (None, ""):
            continue
        wrapped = textwrap.wrap(safe(value), width - 18) or [""]
        lines.append(f"  {name:<15} {wrapped[0]}")
        lines.extend(f"  {'':<15} {more}" for more in wrapped[1:])
    if not candidate.detailed:
        lines.append("  (from the search answers; details were not fetched)")
    return lines


PartLine = tuple[str, str, datetime, str | None]
"""A cached part as `show_cached` prints it: provider, status, fetched at, error."""


def part_lines(cached: CachedMovie) -> list[PartLine]:
    """The parts of a movie read with its parts, as `show_cached` takes them."""
    return [(n, p.status, p.fetched_at, p.error) for n, p in cached.parts.items()]


def show_cached(
    cached: CachedMovie,
    parts: Iterable[PartLine],
    stale: Collection[str],
    checks: Mapping[str, tuple[datetime, str]],
    *,
    as_json: bool,
) -> None:
    """Print a cached movie as ``metarr cache show`` does: its merged record (the JSON
    contract with ``as_json``), then each part's freshness (``stale``: the providers past
    their TTL; ``checks``: confirmations without a refetch), its dates and its disputes."""
    if as_json:
        echo_json(cached.movie)
        return
    from metarr.cache.records import SETTLED_STATUSES

    click.echo("\n".join(movie_lines(cached.movie)))
    click.echo("")
    rows = []
    for name, status, fetched_at, error in parts:
        fresh = name not in stale and status in SETTLED_STATUSES
        rows.append(
            (
                name,
                styled_status(status),
                f"{fetched_at:%Y-%m-%d %H:%M}",
                "fresh" if fresh else click.style("stale", fg="yellow"),
                error or (checks[name][1] if name in checks else ""),
            )
        )
    click.echo(table(("provider", "part", "fetched (UTC)", "age", "note"), rows))
    click.echo("")
    click.echo(
        f"identified {cached.identified_at:%Y-%m-%d %H:%M} UTC · refreshed "
        f"{cached.refreshed_at:%Y-%m-%d %H:%M} UTC" + (f" · key {cached.key}" if cached.key else "")
    )
    if cached.disputes:
        click.echo("")
        click.echo(click.style("disputed ids", bold=True))
        for dispute in cached.disputes:
            click.echo(f"  - {dispute.describe(cached.id)}")
