from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from helse_qa.config import Settings
from helse_qa.errors import ConfigError


def test_defaults_and_env_override(monkeypatch):
    monkeypatch.setenv("HELSE_QA_TOP_K", "7")
    monkeypatch.setenv("HELSE_QA_INDEX_DIR", "/tmp/x-index")
    settings = Settings.load()
    assert settings.top_k == 7
    assert settings.index_dir == Path("/tmp/x-index")
    assert settings.embedding_model == "default"


def test_toml_file_then_env_then_overrides(tmp_path, monkeypatch):
    cfg = tmp_path / "helse-qa.toml"
    cfg.write_text('top_k = 3\nabstain_threshold = 0.5\nfusion = "weighted"\n')
    monkeypatch.setenv("HELSE_QA_TOP_K", "4")
    settings = Settings.load(cfg, top_k=9)
    assert settings.top_k == 9
    assert settings.abstain_threshold == 0.5
    assert settings.fusion == "weighted"


def test_invalid_values_are_reported(monkeypatch):
    monkeypatch.setenv("HELSE_QA_TOP_K", "zero")
    with pytest.raises(ConfigError, match="top_k"):
        Settings.load()


def test_unknown_setting_is_refused(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("no_such_setting = 1\n")
    with pytest.raises(ConfigError, match="no_such_setting"):
        Settings.load(cfg)


def test_missing_explicit_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        Settings.load(tmp_path / "missing.toml")


def test_auth_pairs_from_the_environment(monkeypatch):
    monkeypatch.setenv("HELSE_QA_AUTH", "analytiker:pa:ss, leder:pw2")
    settings = Settings.load()
    assert settings.auth_pairs() == [("analytiker", "pa:ss"), ("leder", "pw2")]
    assert "pa:ss" not in repr(settings)  # never printed with the settings
    assert Settings().auth_pairs() is None


def test_auth_pairs_from_a_file(tmp_path):
    accounts = tmp_path / "accounts"
    accounts.write_text("# team\nanalytiker:hemmelig\n\nleder:pw, med komma\n", encoding="utf-8")
    for value in (str(accounts), f"@{accounts}"):
        assert Settings(auth=value).auth_pairs() == [
            ("analytiker", "hemmelig"),
            ("leder", "pw, med komma"),
        ]


@pytest.mark.parametrize(
    ("value", "message"),
    [("bare-et-navn", "cannot read the auth file"), ("a:b,nopassword", "user:password")],
)
def test_malformed_auth_is_a_clear_error(value, message):
    with pytest.raises(ConfigError, match=message):
        Settings(auth=value).auth_pairs()


# -- removed settings (issue 35: the learned MLP scorer went; the reader replaced it) ------


def test_the_removed_learned_scorer_names_what_replaced_it():
    with pytest.raises(ValidationError) as caught:
        Settings(answer_scorer="learned")
    message = str(caught.value)
    assert "removed" in message and "reader" in message and "heuristic" in message


@pytest.mark.parametrize("name", ["answer_model", "learned_veto"])
def test_a_removed_setting_in_an_old_config_file_is_a_clear_error(tmp_path, name):
    config = tmp_path / "helse-qa.toml"
    config.write_text(f'{name} = "0.5"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"{name}: .*removed.*delete {name}"):
        Settings.load(config)


def test_a_removed_setting_in_the_environment_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HELSE_QA_ANSWER_SCORER", "learned")
    with pytest.raises(ConfigError, match=r"answer_scorer = 'learned'.*removed.*reader"):
        Settings.load()
    monkeypatch.setenv("HELSE_QA_ANSWER_SCORER", "heuristic")
    monkeypatch.setenv("HELSE_QA_LEARNED_VETO", "0.2")
    with pytest.raises(ConfigError, match="learned_veto"):
        Settings.load()
