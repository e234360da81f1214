"""Configuration: file < environment < explicit arguments, validation messages, secrets."""

from __future__ import annotations

from pathlib import Path

import pytest
from metarr import ConfigError
from metarr.config import (
    ProviderSettings,
    Settings,
    default_config_path,
    default_db_path,
    env_name,
    is_secret_key,
    load_settings,
)
from metarr.redaction import Secret, redact

KNOWN = ("tmdb", "omdb", "fanart", "tvdb")


def write(tmp_path: Path, text: str, name: str = "config.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


pytestmark = pytest.mark.usefixtures("forget_secrets")

# -- where the file comes from ----------------------------------------------------------------


def test_no_file_anywhere_gives_defaults() -> None:
    settings = load_settings(KNOWN, env={})
    assert settings.config_path is None
    assert settings.db == default_db_path()
    assert settings.language == "en"
    assert settings.tmdb_policy == "block"
    assert settings.priority == {}
    assert set(settings.providers) == set(KNOWN)
    tmdb = settings.provider("tmdb")
    assert (tmdb.enabled, tmdb.base_url, tmdb.timeout, tmdb.ttl_days) == (True, None, 10.0, None)
    assert not tmdb.has("api_key")


def test_default_paths_follow_the_platform_dirs(isolated_env: Path) -> None:
    assert default_config_path() == isolated_env / "config" / "metarr" / "config.toml"
    assert default_db_path() == isolated_env / "data" / "metarr" / "metarr.sqlite"


def test_the_default_file_is_read_when_present() -> None:
    path = default_config_path()
    path.parent.mkdir(parents=True)
    path.write_text('language = "fr"\n')
    settings = load_settings(KNOWN, env={})
    assert settings.language == "fr"
    assert settings.config_path == path


def test_metarr_config_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, 'language = "de"\n', "elsewhere.toml")
    settings = load_settings(KNOWN, env={"METARR_CONFIG": str(path)})
    assert settings.language == "de"
    assert settings.config_path == path


def test_explicit_config_path_beats_metarr_config(tmp_path: Path) -> None:
    env_file = write(tmp_path, 'language = "de"\n', "env.toml")
    flag_file = write(tmp_path, 'language = "it"\n', "flag.toml")
    settings = load_settings(KNOWN, config_path=flag_file, env={"METARR_CONFIG": str(env_file)})
    assert settings.language == "it"
    assert settings.config_path == flag_file


def test_missing_explicit_config_is_an_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError, match=r"config file .*nope\.toml does not exist"):
        load_settings(KNOWN, config_path=missing, env={})


def test_missing_metarr_config_file_is_an_error(tmp_path: Path) -> None:
    missing = tmp_path / "gone.toml"
    with pytest.raises(ConfigError, match=r"gone\.toml does not exist"):
        load_settings(KNOWN, env={"METARR_CONFIG": str(missing)})


def test_unreadable_file_names_the_path(tmp_path: Path) -> None:
    folder = tmp_path / "config.toml"
    folder.mkdir()  # exists, but cannot be read as a file
    with pytest.raises(ConfigError) as info:
        load_settings(KNOWN, config_path=folder, env={})
    assert "cannot read config file" in str(info.value)
    assert str(folder) in str(info.value)


@pytest.mark.parametrize(
    "content", [b"language = \n", b"[providers\n", b"a = 1\na = 2\n", b"title = '\xff\xfe'\n"]
)
def test_invalid_toml_names_the_path(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "broken.toml"
    path.write_bytes(content)
    with pytest.raises(ConfigError) as info:
        load_settings(KNOWN, config_path=path, env={})
    assert str(path) in str(info.value)
    assert "not valid TOML" in str(info.value)


# -- precedence -------------------------------------------------------------------------------

FILE = """
db = "/from/file.sqlite"
language = "fr"
tmdb_policy = "warn"

[providers.tmdb]
api_key = "file-tmdb-key"
enabled = true
timeout = 5
base_url = "https://file.example/3/"
ttl_days = 2

[providers.omdb]
api_key = "file-omdb-key"
enabled = false
"""


def test_file_values_are_used(tmp_path: Path) -> None:
    settings = load_settings(KNOWN, config_path=write(tmp_path, FILE), env={})
    assert settings.db == Path("/from/file.sqlite")
    assert settings.language == "fr"
    assert settings.tmdb_policy == "warn"
    tmdb = settings.provider("tmdb")
    assert tmdb.get("api_key") == "file-tmdb-key"
    assert tmdb.timeout == 5.0
    assert tmdb.base_url == "https://file.example/3"  # trailing slash dropped
    assert tmdb.ttl_days == 2.0
    assert tmdb.enabled is True
    assert settings.provider("omdb").enabled is False


def test_environment_beats_the_file(tmp_path: Path) -> None:
    env = {
        "METARR_DB": "/from/env.sqlite",
        "METARR_LANGUAGE": "de",
        "METARR_TMDB_POLICY": "block",
        "METARR_TMDB_API_KEY": "env-tmdb-key",
        "METARR_TMDB_TIMEOUT": "2.5",
        "METARR_TMDB_BASE_URL": "http://127.0.0.1:8080/3",
        "METARR_OMDB_ENABLED": "yes",
    }
    settings = load_settings(KNOWN, config_path=write(tmp_path, FILE), env=env)
    assert settings.db == Path("/from/env.sqlite")
    assert settings.language == "de"
    assert settings.tmdb_policy == "block"
    tmdb = settings.provider("tmdb")
    assert tmdb.get("api_key") == "env-tmdb-key"
    assert tmdb.timeout == 2.5
    assert tmdb.base_url == "http://127.0.0.1:8080/3"
    assert settings.provider("omdb").enabled is True
    assert settings.provider("omdb").get("api_key") == "file-omdb-key"  # untouched by env


def test_explicit_db_path_beats_environment_and_file(tmp_path: Path) -> None:
    settings = load_settings(
        KNOWN,
        config_path=write(tmp_path, FILE),
        db_path=tmp_path / "flag.sqlite",
        env={"METARR_DB": "/from/env.sqlite"},
    )
    assert settings.db == tmp_path / "flag.sqlite"


def test_db_path_expands_the_home_dir() -> None:
    settings = load_settings(KNOWN, env={"METARR_DB": "~/movies.sqlite"})
    assert settings.db == Path("~/movies.sqlite").expanduser()
    assert "~" not in str(settings.db)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("false", False), ("0", False), ("No", False), ("off", False), ("TRUE", True), ("1", True)],
)
def test_enabled_accepts_the_usual_spellings(raw: str, expected: bool) -> None:
    settings = load_settings(KNOWN, env={"METARR_FANART_ENABLED": raw})
    assert settings.provider("fanart").enabled is expected


def test_env_var_names() -> None:
    assert env_name("tmdb", "api_key") == "METARR_TMDB_API_KEY"
    assert env_name("my-ratings", "base_url") == "METARR_MY_RATINGS_BASE_URL"


# -- wrong values -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("var", "value", "words"),
    [
        ("METARR_TMDB_ENABLED", "maybe", ["true or false", "'maybe'"]),
        ("METARR_TMDB_TIMEOUT", "fast", ["must be a number", "'fast'"]),
        ("METARR_TMDB_TIMEOUT", "-1", ["greater than 0", "'-1'"]),
        ("METARR_TMDB_TIMEOUT", "0", ["greater than 0"]),
        ("METARR_TMDB_TIMEOUT", "nan", ["greater than 0"]),
        ("METARR_TMDB_TTL_DAYS", "a week", ["must be a number"]),
        ("METARR_TMDB_BASE_URL", "api.themoviedb.org/3", ["http:// or https://"]),
        ("METARR_TMDB_BASE_URL", "ftp://api.themoviedb.org/3", ["http:// or https://"]),
        ("METARR_TMDB_BASE_URL", "  ", ["non-empty text"]),
    ],
)
def test_wrong_env_values_name_the_variable(var: str, value: str, words: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(KNOWN, env={var: value})
    message = str(info.value)
    assert var in message
    key = var.removeprefix("METARR_TMDB_").lower()
    assert f"providers.tmdb.{key}" in message
    for word in words:
        assert word in message


@pytest.mark.parametrize(
    ("section", "words"),
    [
        ('enabled = "maybe"', ["METARR_OMDB_ENABLED", "true or false"]),
        ("timeout = -1", ["METARR_OMDB_TIMEOUT", "greater than 0"]),
        ('timeout = "fast"', ["METARR_OMDB_TIMEOUT", "must be a number"]),
        ("base_url = 42", ["METARR_OMDB_BASE_URL", "non-empty text"]),
        ("api_key = [1, 2]", ["providers.omdb.api_key", "must be text"]),
        ("api_key = true", ["providers.omdb.api_key", "must be text"]),
    ],
)
def test_wrong_file_values_are_refused(tmp_path: Path, section: str, words: list[str]) -> None:
    path = write(tmp_path, f"[providers.omdb]\n{section}\n")
    with pytest.raises(ConfigError) as info:
        load_settings(KNOWN, config_path=path, env={})
    for word in words:
        assert word in str(info.value)


def test_unknown_provider_section_names_the_installed_ones(tmp_path: Path) -> None:
    path = write(tmp_path, '[providers.tmbd]\napi_key = "x"\n')
    with pytest.raises(ConfigError) as info:
        load_settings(KNOWN, config_path=path, env={})
    message = str(info.value)
    assert "[providers.tmbd] names no installed provider" in message
    assert "installed: fanart, omdb, tmdb, tvdb" in message
    assert str(path) in message


def test_unknown_section_with_nothing_installed(tmp_path: Path) -> None:
    path = write(tmp_path, "[providers.tmdb]\n")
    with pytest.raises(ConfigError, match="installed: none"):
        load_settings([], config_path=path, env={})


def test_unknown_top_level_key_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, 'langauge = "de"\n')
    with pytest.raises(ConfigError) as info:
        load_settings(KNOWN, config_path=path, env={})
    assert "unknown setting(s) langauge" in str(info.value)
    assert "language" in str(info.value).split("valid top-level keys are")[1]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ('providers = "tmdb"\n', r"\[providers\] must be a table"),
        ('[providers]\ntmdb = "key"\n', r"\[providers.tmdb\] must be a table"),
    ],
)
def test_providers_must_be_tables(tmp_path: Path, text: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        load_settings(KNOWN, config_path=write(tmp_path, text), env={})


# -- language, tmdb_policy, priority ----------------------------------------------------------


@pytest.mark.parametrize("language", ["en", "de-DE", "pt-BR", " fr "])
def test_valid_languages(language: str) -> None:
    assert load_settings(KNOWN, env={"METARR_LANGUAGE": language}).language == language.strip()


@pytest.mark.parametrize("text", ['language = "e"', 'language = "much-too-long"', "language = 5"])
def test_invalid_language(tmp_path: Path, text: str) -> None:
    with pytest.raises(ConfigError, match="language must be a code such as 'en'"):
        load_settings(KNOWN, config_path=write(tmp_path, text + "\n"), env={})


def test_tmdb_policy_values(tmp_path: Path) -> None:
    assert load_settings(KNOWN, env={"METARR_TMDB_POLICY": "warn"}).tmdb_policy == "warn"
    with pytest.raises(ConfigError, match="tmdb_policy must be one of block, warn, not 'ignore'"):
        load_settings(KNOWN, env={"METARR_TMDB_POLICY": "ignore"})
    path = write(tmp_path, 'tmdb_policy = "off"\n')
    with pytest.raises(ConfigError, match="not 'off'"):
        load_settings(KNOWN, config_path=path, env={})


def test_priority_table_is_read(tmp_path: Path) -> None:
    text = '[priority]\ntitle = ["omdb", "tmdb"]\n"ids.imdb" = ["tvdb"]\n'
    settings = load_settings(KNOWN, config_path=write(tmp_path, text), env={})
    assert settings.priority == {"title": ("omdb", "tmdb"), "ids.imdb": ("tvdb",)}


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('[priority]\ntitel = ["omdb"]\n', ["'titel' is not a merged field", "title"]),
        ('[priority]\ntitle = "omdb"\n', ["title must be a list of provider names"]),
        ("[priority]\ntitle = [1]\n", ["title must be a list of provider names"]),
        ('[priority]\ntitle = ["imdb"]\n', ["title names unknown provider 'imdb'"]),
        ('priority = ["tmdb"]\n', ["[priority] must map field names"]),
    ],
)
def test_priority_table_is_validated(tmp_path: Path, text: str, words: list[str]) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_settings(KNOWN, config_path=path, env={})
    assert str(path) in str(info.value)
    for word in words:
        assert word in str(info.value)


# -- secrets ----------------------------------------------------------------------------------


def test_secrets_are_wrapped_and_hidden(tmp_path: Path) -> None:
    text = '[providers.tvdb]\napi_key = "tvdb-file-secret"\npin = 43214321\n'
    env = {"METARR_TMDB_ACCESS_TOKEN": "eyJhbGciOiJIUzI1NiJ9.token-secret"}
    settings = load_settings(KNOWN, config_path=write(tmp_path, text), env=env)
    tvdb = settings.provider("tvdb")
    assert isinstance(tvdb.options["api_key"], Secret)
    assert isinstance(tvdb.options["pin"], Secret)
    assert tvdb.get("pin") == "43214321"
    assert tvdb.get("api_key") == "tvdb-file-secret"
    assert sorted(tvdb.secrets()) == ["43214321", "tvdb-file-secret"]
    assert settings.provider("tmdb").has("access_token")
    shown = repr(settings) + str(settings) + repr(settings.providers)
    for secret in ("tvdb-file-secret", "43214321", "token-secret"):
        assert secret not in shown
    assert "***" in shown
    # ...and registered, so log redaction masks them wherever they turn up.
    assert redact("pin 43214321 key tvdb-file-secret") == "pin *** key ***"


def test_an_empty_variable_is_unset_and_the_file_value_stands(tmp_path: Path) -> None:
    path = write(tmp_path, FILE)
    env = {"METARR_TMDB_API_KEY": "", "METARR_TMDB_TIMEOUT": "", "METARR_OMDB_ENABLED": ""}
    settings = load_settings(KNOWN, config_path=path, env=env)
    assert settings.provider("tmdb").get("api_key") == "file-tmdb-key"
    assert settings.provider("tmdb").timeout == 5.0
    assert settings.provider("omdb").enabled is False
    bare = load_settings(KNOWN, env={"METARR_OMDB_API_KEY": ""})
    assert not bare.provider("omdb").has("api_key")
    assert "api_key" not in bare.provider("omdb").options


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("   ", ["contains whitespace"]),
        ("abcd 12345", ["contains whitespace"]),
        ("abcd12345 ", ["contains whitespace"]),
        ("abcd\n12345", ["control character"]),
        ("abcd12345\r", ["control character"]),
        ("abcd\x1b12345", ["control character"]),
        ("abcd\u200b12345", ["control character"]),
        ("1999", ["is 4 characters long", "at least 8"]),
        ("k", ["is 1 characters long"]),
    ],
)
def test_unusable_secrets_are_refused_naming_the_variable(value: str, words: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(KNOWN, env={"METARR_TVDB_PIN": value})
    message = str(info.value)
    assert "providers.tvdb.pin" in message and "METARR_TVDB_PIN" in message
    for word in words:
        assert word in message
    assert value.strip() not in message or len(value.strip()) < 2  # the value itself is not shown


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ('api_key = ""', ["is empty"]),
        ('api_key = "short"', ["is 5 characters long"]),
        ('api_key = "with space"', ["contains whitespace"]),
        ('api_key = """two\nlines"""', ["control character"]),
        ("pin = 1999", ["is 4 characters long"]),
    ],
)
def test_unusable_secrets_in_the_file_are_refused(
    tmp_path: Path, line: str, words: list[str]
) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(KNOWN, config_path=write(tmp_path, f"[providers.omdb]\n{line}\n"), env={})
    message = str(info.value)
    assert "providers.omdb." in message
    for word in words:
        assert word in message


def test_the_shortest_secret_is_accepted() -> None:
    settings = load_settings(KNOWN, env={"METARR_OMDB_API_KEY": "51m0mdb1"})
    assert settings.provider("omdb").get("api_key") == "51m0mdb1"


def test_secrets_given_in_code_are_wrapped_and_registered() -> None:
    settings = Settings(
        providers={
            "tmdb": ProviderSettings(
                name="tmdb", options={"api_key": "code-tmdb-key-0123", "image_size": "w500"}
            ),
            "tvdb": ProviderSettings(name="tvdb", options={"pin": 19991231}),
        }
    )
    tmdb = settings.provider("tmdb")
    assert isinstance(tmdb.options["api_key"], Secret)
    assert tmdb.get("api_key") == "code-tmdb-key-0123"
    assert tmdb.get("image_size") == "w500"
    assert settings.provider("tvdb").get("pin") == "19991231"
    assert sorted(tmdb.secrets()) == ["code-tmdb-key-0123"]
    assert "code-tmdb-key-0123" not in repr(settings) and "19991231" not in repr(settings)
    assert redact("GET /x?k=code-tmdb-key-0123 19991231") == "GET /x?k=*** ***"


# -- a config file others can read ------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "readers"),
    [(0o644, "group and others"), (0o640, "group"), (0o604, "others")],
)
def test_a_readable_file_with_secrets_earns_one_warning(
    tmp_path: Path, mode: int, readers: str
) -> None:
    path = write(tmp_path, FILE)
    path.chmod(mode)
    settings = load_settings(KNOWN, config_path=path, env={})
    [warning] = settings.warnings
    assert str(path) in warning
    assert f"its {readers} can read it" in warning
    assert "providers.tmdb.api_key" in warning and "providers.omdb.api_key" in warning
    assert f"chmod 600 {path}" in warning
    assert "file-tmdb-key" not in warning


def test_no_warning_for_a_private_file_or_one_without_secrets(tmp_path: Path) -> None:
    private = write(tmp_path, FILE)
    private.chmod(0o600)
    assert load_settings(KNOWN, config_path=private, env={}).warnings == ()
    public = write(tmp_path, '[providers.tmdb]\ntimeout = 3\nimage_size = "w500"\n', "p.toml")
    public.chmod(0o644)
    assert load_settings(KNOWN, config_path=public, env={}).warnings == ()
    # Secrets from the environment are not the file's business.
    env = {"METARR_TMDB_API_KEY": "env-tmdb-key"}
    assert load_settings(KNOWN, config_path=public, env=env).warnings == ()


@pytest.mark.parametrize(
    ("key", "secret"),
    [
        ("api_key", True),
        ("client_key", True),
        ("pin", True),
        ("user_token", True),
        ("password", True),
        ("client_secret", True),
        ("region", False),
        ("language", False),
        ("base_url", False),
    ],
)
def test_which_keys_are_secret(key: str, secret: bool) -> None:
    assert is_secret_key(key) is secret


# -- third-party providers --------------------------------------------------------------------


def test_third_party_provider_needs_no_core_change(tmp_path: Path) -> None:
    text = """
[providers.moviebuff]
api_key = "buff-file-key"
region = "eu"
max_pages = 3
timeout = 4
"""
    env = {
        "METARR_MOVIEBUFF_REGION": "us",
        "METARR_MOVIEBUFF_SESSION_TOKEN": "buff-session-token",
        "METARR_MOVIEBUFF_BASE_URL": "https://buff.example/api/",
    }
    settings = load_settings((*KNOWN, "moviebuff"), config_path=write(tmp_path, text), env=env)
    buff = settings.provider("moviebuff")
    assert buff.get("api_key") == "buff-file-key"
    assert buff.get("region") == "us"  # env beats file for plugin-specific keys too
    assert buff.get("max_pages") == 3  # TOML types are kept
    assert buff.get("session_token") == "buff-session-token"
    assert isinstance(buff.options["session_token"], Secret)
    assert buff.timeout == 4.0
    assert buff.base_url == "https://buff.example/api"
    assert buff.get("missing", "fallback") == "fallback"
    assert "buff-session-token" not in repr(settings)


def test_third_party_wrong_value_names_its_variable() -> None:
    with pytest.raises(ConfigError, match="METARR_MOVIEBUFF_ENABLED"):
        load_settings(["moviebuff"], env={"METARR_MOVIEBUFF_ENABLED": "sometimes"})


def test_env_of_an_uninstalled_provider_is_ignored() -> None:
    settings = load_settings(KNOWN, env={"METARR_MOVIEBUFF_API_KEY": "whatever"})
    assert "moviebuff" not in settings.providers
    assert not settings.provider("moviebuff").has("api_key")


def test_top_level_variables_are_not_provider_options() -> None:
    # METARR_TMDB_POLICY shares the METARR_TMDB_ prefix but is the top-level tmdb_policy.
    env = {"METARR_TMDB_POLICY": "warn", "METARR_TMDB_API_KEY": "tmdb-key-2"}
    settings = load_settings(KNOWN, env=env)
    assert settings.tmdb_policy == "warn"
    assert set(settings.provider("tmdb").options) == {"api_key"}


def test_provider_without_section_gets_defaults() -> None:
    settings = load_settings(KNOWN, env={})
    other = settings.provider("not-installed")
    assert other.name == "not-installed"
    assert other.enabled is True
    assert other.options == {}


def test_a_longer_provider_name_keeps_its_own_variables() -> None:
    from metarr.config import load_settings

    settings = load_settings(
        ["my", "my_ratings"],
        env={"METARR_MY_API_KEY": "short-key", "METARR_MY_RATINGS_API_KEY": "long-key"},
    )
    assert settings.provider("my").get("api_key") == "short-key"
    assert "ratings_api_key" not in settings.provider("my").options
    assert settings.provider("my_ratings").get("api_key") == "long-key"


def test_a_misspelled_option_in_the_file_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, '[providers.tmdb]\napi_ky = "0123456789abcdef"\n')
    with pytest.raises(ConfigError) as info:
        load_settings(KNOWN, config_path=path, env={})
    message = str(info.value)
    assert str(path) in message and "'api_ky'" in message and "did you mean 'api_key'" in message
    assert "0123456789abcdef" not in message
