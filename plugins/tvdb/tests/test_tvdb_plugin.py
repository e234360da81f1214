"""The plugin as the core sees it: entry point, settings from METARR_TVDB_*, hook validation."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from metarr.config import load_settings
from metarr.plugins import build_registry, discover
from metarr_tvdb import TvdbProvider


def _registry(env: dict[str, str], tmp_path: Path) -> tuple[str, str | None, object]:
    config = tmp_path / "config.toml"
    config.write_text("", encoding="utf-8")  # never read the developer's own config

    async def main() -> tuple[str, str | None, object]:
        async with httpx.AsyncClient() as client:
            infos = [info for info in discover(env={}) if info.name == "tvdb"]
            settings = load_settings(["tvdb"], config_path=config, env=env)
            registry = build_registry(settings, client, plugins=infos)
            entry = registry.entries["tvdb"]
            return entry.state, entry.reason, entry.provider

    return asyncio.run(main())


def test_entry_point_loads_the_provider() -> None:
    (info,) = [info for info in discover(env={}) if info.name == "tvdb"]
    assert info.factory is TvdbProvider
    assert info.distribution == "metarr-tvdb"
    assert set(info.hooks) == {"lookup_by_id", "search", "extract_ids", "field_priority"}
    assert info.id_types == ("imdb", "tvdb")


def test_class_attributes() -> None:
    assert TvdbProvider.id_types == frozenset({"tvdb", "imdb"})
    assert TvdbProvider.requires == (("api_key",),)
    assert TvdbProvider.default_base_url == "https://api4.thetvdb.com/v4"
    assert TvdbProvider.default_ttl_days == 7
    assert TvdbProvider.languages == frozenset({"en"})  # texts come from the eng translation
    assert TvdbProvider.authority_for == frozenset({"tvdb"})


def test_disabled_without_an_api_key(tmp_path: Path) -> None:
    state, reason, _ = _registry({}, tmp_path)
    assert state == "disabled"
    assert reason is not None
    assert "METARR_TVDB_API_KEY" in reason


def test_enabled_from_environment_with_pin(tmp_path: Path) -> None:
    state, reason, provider = _registry(
        {"METARR_TVDB_API_KEY": "env-key-1234", "METARR_TVDB_PIN": "env-pin-5678"}, tmp_path
    )
    assert (state, reason) == ("enabled", None)
    assert isinstance(provider, TvdbProvider)
    assert "env-key-1234" not in repr(provider.auth)
    assert "env-pin-5678" not in repr(provider.auth)
