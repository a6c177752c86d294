"""Population games: the congestion family with exact symmetric equilibria and NashConv
(:mod:`~games.population.congestion`), MRA latent policy sets on it (:mod:`~games.population.mra`, whose
``train(...).adapt(n, steps)`` is ``games.mra.train``) and the relational latent soft actor-critic on the grid
resource game (:mod:`games.population.sac`).

Names are exported lazily (:mod:`theory.lazy`).
"""
from theory.lazy import lazy_exports

_EXPORTS = {
    "CongestionFamily": "games.population.congestion",
    "SymmetricEquilibrium": "games.population.congestion",
    "LatentFit": "games.population.congestion",
    "congestion_family": "games.population.congestion",
    "check_population": "games.population.congestion",
    "check_populations": "games.population.congestion",
    "share": "games.population.congestion",
    "best_latent_weights": "games.population.congestion",
    "MRAModel": "games.population.mra",
    "Adaptation": "games.population.mra",
    "adapt_weights": "games.population.mra",
    "train": "games.population.mra",
}
_SUBMODULES = {
    "mra": "games.population.mra",
    "sac": "games.population.sac",
}
__all__, __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, _SUBMODULES)
