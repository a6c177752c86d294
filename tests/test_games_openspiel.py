"""Cross-check against OpenSpiel where it is installed (optional extra ``theorysim[openspiel]``)."""
import numpy as np
import pytest
from reference_libs import require

pyspiel = require("pyspiel")

from games import TabularPolicy, cfr, exploitability, kuhn_poker, leduc_poker, mmd, uniform_policy  # noqa: E402
from games.efg.openspiel import openspiel_exploitability  # noqa: E402


def _rand(mask, rng):
    p = (rng.random(mask.shape) + 1e-3) * mask
    return p / p.sum(1, keepdims=True)


@pytest.mark.parametrize("game", [kuhn_poker, leduc_poker])
def test_exploitability_agrees_with_openspiel(game):
    g = game()
    rng = np.random.default_rng(0)
    pols = [uniform_policy(g), mmd(g, 0.05, iterations=50).policy, cfr(g, 30, plus=True).average_policy,
            TabularPolicy(g, tuple(_rand(t.mask, rng) for t in g.treeplex))]
    for p in pols:
        assert openspiel_exploitability(g, p) == pytest.approx(exploitability(g, p), abs=1e-9)


def test_openspiel_information_set_count():
    from open_spiel.python import policy as os_policy

    for g, name in ((kuhn_poker(), "kuhn_poker"), (leduc_poker(), "leduc_poker")):
        assert len(os_policy.TabularPolicy(pyspiel.load_game(name)).state_lookup) == g.num_infosets
