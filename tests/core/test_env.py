"""The settings helpers: pure functions, no database."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from lensfinder.env import database_from_url, env_bool, env_int, env_list, env_path, redis_url


def test_it_reads_booleans_in_any_case():
    assert env_bool("X", "false", {"X": "TRUE"}) is True
    assert env_bool("X", "true", {"X": "off"}) is False
    assert env_bool("X", "yes", {}) is True


def test_it_names_the_variable_of_a_bad_boolean():
    with pytest.raises(ImproperlyConfigured, match=r"DEBUG='maybe' is not a boolean"):
        env_bool("DEBUG", "true", {"DEBUG": "maybe"})


def test_it_reads_whole_numbers_and_refuses_others():
    assert env_int("N", "60", {}) == 60 and env_int("N", "60", {"N": " 0 "}) == 0
    for bad in ("-1", "1.5", "lots"):
        with pytest.raises(ImproperlyConfigured, match=f"N='{bad}' is not a whole number >= 0"):
            env_int("N", "60", {"N": bad})


def test_it_splits_lists_and_drops_blanks():
    assert env_list("H", "", {"H": "a.org, b.org,,"}) == ["a.org", "b.org"]
    assert env_list("H", "127.0.0.1,localhost", {}) == ["127.0.0.1", "localhost"]


def test_it_resolves_relative_data_dirs_from_the_project(tmp_path):
    assert env_path("D", "var", tmp_path, {}) == tmp_path / "var"
    assert env_path("D", "var", tmp_path, {"D": "/srv/lf"}).as_posix() == "/srv/lf"


def test_it_refuses_a_data_dir_that_is_a_file(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(ImproperlyConfigured, match="not a directory"):
        env_path("LENSFINDER_DATA_DIR", "var", tmp_path, {"LENSFINDER_DATA_DIR": str(f)})


def test_it_parses_sqlite_urls(tmp_path):
    rel = database_from_url("sqlite:///var/db.sqlite3", tmp_path)
    assert rel == {"ENGINE": "django.db.backends.sqlite3", "NAME": str(tmp_path / "var/db.sqlite3")}
    absolute = database_from_url("sqlite:////data/db.sqlite3", tmp_path)
    assert absolute["NAME"] == "/data/db.sqlite3"


def test_it_parses_postgres_urls_with_options(tmp_path):
    db = database_from_url("postgres://lf:p%40ss@db.example:5433/lens?sslmode=require", tmp_path)
    assert db["ENGINE"] == "django.db.backends.postgresql"
    assert (db["NAME"], db["USER"], db["PASSWORD"]) == ("lens", "lf", "p@ss")
    assert (db["HOST"], db["PORT"], db["OPTIONS"]) == ("db.example", "5433", {"sslmode": "require"})


@pytest.mark.parametrize(
    "url, message",
    [
        ("mysql://root@localhost/x", "unsupported scheme 'mysql'"),
        ("postgres://localhost:5432/", "names no database"),
        ("postgres://localhost:port/x", "port is not a number"),
        ("sqlite://", "a SQLite URL looks like"),
        ("just-a-path.sqlite3", "unsupported scheme"),
    ],
)
def test_it_explains_a_bad_database_url(tmp_path, url, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        database_from_url(url, tmp_path)


def test_it_accepts_redis_and_unix_urls():
    assert redis_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
    assert redis_url("unix:///tmp/r.sock") == "unix:///tmp/r.sock"


@pytest.mark.parametrize(
    "url, message",
    [
        ("http://localhost:6379", "use redis://"),
        ("redis://:6379/0", "names no host"),
        ("unix://", "needs a socket path"),
        ("redis://localhost:nope/0", "port is not a number"),
    ],
)
def test_it_explains_a_bad_redis_url(url, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        redis_url(url)
