"""The TVDB token kept across processes: a private file per base URL, key and PIN."""

from __future__ import annotations

import base64
import json
import logging
import stat
import time
from pathlib import Path
from typing import Any

import pytest
from metarr import AuthError, Ids
from metarr.testing import make_provider, run
from metarr_tvdb import TvdbProvider
from metarr_tvdb.auth import EXPIRY_MARGIN, TOKEN_MAX_AGE, token_expiry


def _jwt(**claims: Any) -> str:
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    return f"eyJhbGciOiJSUzI1NiJ9.{payload}.c2lnbmF0dXJl"


async def _lookup(provider: TvdbProvider) -> Any:
    return await provider.lookup_by_id(ids=Ids(tvdb=12345))


def _token_files(state_dir: Path) -> list[Path]:
    return sorted(state_dir.glob("token-*.json"))


def test_a_second_process_reuses_the_token(kit: Any, state_dir: Path) -> None:
    kit.add_login()
    kit.add_movie(is_reusable=True)
    assert kit.call(_lookup) is not None
    assert kit.call(_lookup) is not None  # a new provider object: as a new process would
    assert len(kit.logins()) == 1
    assert {r.headers["Authorization"] for r in kit.data_requests()} == {f"Bearer {kit.TOKEN}"}
    (path,) = _token_files(state_dir)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(state_dir.stat().st_mode) == 0o700
    assert list(state_dir.iterdir()) == [path]  # no temporary file left behind


def test_the_file_holds_no_key_or_pin(kit: Any, state_dir: Path) -> None:
    kit.add_login()
    kit.add_movie()
    kit.call(_lookup, pin=kit.PIN)
    (path,) = _token_files(state_dir)
    text = path.read_text(encoding="utf-8")
    assert kit.API_KEY not in text
    assert kit.PIN not in text
    assert kit.API_KEY not in path.name


@pytest.mark.parametrize(
    "other",
    [
        {"api_key": "another-key"},
        {"pin": "another-pin"},
        {"base_url": "https://tvdb.example.test/v4"},
    ],
)
def test_a_token_is_never_used_for_another_key_or_server(
    kit: Any, state_dir: Path, other: dict[str, str]
) -> None:
    kit.add_login()
    kit.add_movie()
    kit.call(_lookup)
    base = other.get("base_url", kit.BASE)
    kit.mock.add_response(
        method="POST", url=f"{base}/login", json={"status": "success", "data": {"token": "t2"}}
    )
    kit.mock.add_response(
        method="GET",
        url=f"{base}/movies/12345/extended?meta=translations",
        json=kit.sample("handwritten_movie_12345_extended.json"),
        match_headers={"Authorization": "Bearer t2"},
    )

    async def main(client: Any) -> Any:
        settings = {"api_key": other.get("api_key", kit.API_KEY), **other}
        settings.pop("base_url", None)
        provider = make_provider(TvdbProvider, "tvdb", settings, client=client, base_url=base)
        return await _lookup(provider)

    assert run(main) is not None
    assert len(kit.mock.get_requests(method="POST")) == 2
    assert len(_token_files(state_dir)) == 2


def test_an_expired_kept_token_is_not_used(kit: Any, state_dir: Path) -> None:
    kit.add_login(_jwt(exp=int(time.time()) + EXPIRY_MARGIN // 2))
    kit.add_login("token-two")
    kit.add_movie(is_reusable=True)
    kit.call(_lookup)
    kit.call(_lookup)  # the kept token expires within the margin: log in again
    assert len(kit.logins()) == 2
    assert kit.data_requests()[-1].headers["Authorization"] == "Bearer token-two"
    (path,) = _token_files(state_dir)
    assert json.loads(path.read_text(encoding="utf-8"))["token"] == "token-two"


def test_token_expiry_reads_the_jwt_and_caps_it() -> None:
    now = 1_700_000_000.0
    assert token_expiry(_jwt(exp=now + 600), now) == now + 600
    assert token_expiry(_jwt(exp=now + 90 * 86_400), now) == now + TOKEN_MAX_AGE
    for odd in ("opaque-token", _jwt(sub="x"), _jwt(exp="soon"), _jwt(exp=True), "a.!!!.c"):
        assert token_expiry(odd, now) == now + TOKEN_MAX_AGE


def test_a_rejected_kept_token_costs_one_login(kit: Any, state_dir: Path) -> None:
    kit.add_login("token-one")
    kit.add_movie(match_headers={"Authorization": "Bearer token-one"})
    kit.call(_lookup)
    kit.mock.add_response(
        method="GET",
        url=kit.movie_url(),
        status_code=401,
        json={"status": "failure", "message": "Unauthorized", "data": None},
        match_headers={"Authorization": "Bearer token-one"},
    )
    kit.add_login("token-two")
    kit.add_movie(match_headers={"Authorization": "Bearer token-two"})
    assert kit.call(_lookup) is not None
    assert len(kit.logins()) == 2
    (path,) = _token_files(state_dir)
    assert json.loads(path.read_text(encoding="utf-8"))["token"] == "token-two"


def test_a_bad_key_forgets_the_kept_token(kit: Any, state_dir: Path) -> None:
    kit.add_login("token-one")
    kit.add_movie()
    kit.call(_lookup)
    kit.mock.add_response(method="GET", url=kit.movie_url(), status_code=401)
    kit.mock.add_response(method="POST", url=f"{kit.BASE}/login", status_code=401)
    with pytest.raises(AuthError):
        kit.call(_lookup)
    assert _token_files(state_dir) == []


@pytest.mark.parametrize(
    "content",
    [b"", b"{not json", b"[1, 2]", b'{"token": 42, "expires": 1e12}', b'{"token": "x"}'],
)
def test_a_damaged_file_is_ignored_and_replaced(kit: Any, state_dir: Path, content: bytes) -> None:
    kit.add_login()
    kit.add_movie()
    kit.call(_lookup)
    (path,) = _token_files(state_dir)
    path.write_bytes(content)
    kit.add_login("token-two")
    kit.add_movie(match_headers={"Authorization": "Bearer token-two"})
    assert kit.call(_lookup) is not None
    assert json.loads(path.read_text(encoding="utf-8"))["token"] == "token-two"


def test_an_unwritable_state_dir_costs_only_the_reuse(
    kit: Any, state_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    state_dir.parent.mkdir(parents=True)
    state_dir.write_text("a file where the directory should be", encoding="utf-8")
    kit.add_login(is_reusable=True)
    kit.add_movie(is_reusable=True)
    caplog.set_level(logging.DEBUG)
    assert kit.call(_lookup) is not None
    assert kit.call(_lookup) is not None
    assert len(kit.logins()) == 2
    assert "could not keep the TheTVDB token" in caplog.text
    assert kit.TOKEN not in caplog.text


def test_the_kept_token_is_never_logged(
    kit: Any, state_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    kit.add_login()
    kit.add_movie(is_reusable=True)
    caplog.set_level(logging.DEBUG)
    kit.call(_lookup)
    kit.call(_lookup)
    assert "reusing the TheTVDB token" in caplog.text
    for secret in kit.SECRETS:
        assert secret not in caplog.text
