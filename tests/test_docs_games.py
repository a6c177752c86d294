"""docs/games.md (the guide to adding a game) runs as written, including adding the game to the pipeline."""
import re
from pathlib import Path

import pytest

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "games.md"


def _python_blocks():
    return re.findall(r"```python\n(.*?)```", GUIDE.read_text(), flags=re.S)


def test_guide_code_runs(tmp_path, monkeypatch, capsys):
    blocks = _python_blocks()
    assert len(blocks) >= 3
    (tmp_path / "my_games.py").write_text(blocks[0])  # the guide saves the game as my_games.py
    monkeypatch.syspath_prepend(str(tmp_path))
    ns = {}
    exec(compile(blocks[0], "my_games.py", "exec"), ns)
    for i, block in enumerate(blocks[1:], 1):
        exec(compile(block, f"docs/games.md block {i}", "exec"), ns)
    assert "value for player 0 with ante 2" in capsys.readouterr().out


def test_guide_game_runs_in_the_pipeline(tmp_path, monkeypatch):
    """The guide's `python:my_games:three_card_poker` spec feeds update_equivalence_nash through the same
    environment variable the Snakefile sets, and the game list is part of the config (and its hash)."""
    from experiments.registry import GAMES_ENV, config_hash, get_config
    from experiments.runner import aggregate, run_one

    (tmp_path / "my_games.py").write_text(_python_blocks()[0])
    monkeypatch.syspath_prepend(str(tmp_path))
    base = config_hash(get_config("update_equivalence_nash", "smoke"))
    spec = "python:my_games:three_card_poker"
    monkeypatch.setenv(GAMES_ENV, f'["kuhn_poker", "{spec}"]')
    config = get_config("update_equivalence_nash", "smoke")
    assert config.games == ("kuhn_poker", spec)
    assert config_hash(config) != base
    out = tmp_path / "seed0.parquet"
    frame = run_one("update_equivalence_nash", "smoke", 0, out=out)
    assert set(frame.game) == {"kuhn_poker", spec}
    frame, claims = aggregate("update_equivalence_nash", "smoke", [out])
    assert all(c.verdict != "contradicted" or not c.theorem for c in claims)


def test_bad_game_list_is_refused(monkeypatch):
    from experiments.registry import ConfigError, GAMES_ENV, get_config

    monkeypatch.setenv(GAMES_ENV, '["kuhn_poker", "chess"]')
    with pytest.raises(ConfigError, match="'chess' is not an allowed form; allowed: kuhn_poker, leduc_poker"):
        get_config("update_equivalence_nash", "smoke")
    monkeypatch.setenv(GAMES_ENV, '["tiny_hanabi_A"]')
    with pytest.raises(ValueError, match="common-payoff"):
        get_config("update_equivalence_mmds", "smoke")
    monkeypatch.setenv(GAMES_ENV, "kuhn_poker")
    with pytest.raises(ConfigError, match="JSON list"):
        get_config("update_equivalence_nash", "smoke")
    # experiments that do not take a game list ignore it
    monkeypatch.setenv(GAMES_ENV, '["kuhn_poker"]')
    assert get_config("update_equivalence_search", "smoke").games == ("A", "C")


def test_schema_pattern_is_the_registry_pattern():
    import yaml

    from games.efg.registry import GAME_PATTERN

    schema = yaml.safe_load((GUIDE.parents[1] / "workflow" / "schemas" / "config.schema.yaml").read_text())
    assert schema["properties"]["games"]["oneOf"][1]["items"]["pattern"] == GAME_PATTERN
