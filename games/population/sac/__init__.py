"""MRA on the grid resource game (C4): a relational, latent-conditioned soft actor-critic split by job.

:mod:`~games.population.sac.env` (the game without its population, relational observations, batched episodes),
:mod:`~games.population.sac.networks`, :mod:`~games.population.sac.buffer` (replay),
:mod:`~games.population.sac.loss` (hyperparameters and the SAC + MI loss), :mod:`~games.population.sac.trainer`
(:func:`~games.population.sac.trainer.train_latent_sac`, trained best responses),
:mod:`~games.population.sac.evaluation` (returns, approximate NashConv) and
:mod:`~games.population.sac.adaptation` (fast adaptation to a held-out population).

Names are exported lazily (:mod:`theory.lazy`).
"""
from theory.lazy import lazy_exports

_EXPORTS = {
    "GridGame": "games.population.sac.env",
    "entity_features": "games.population.sac.env",
    "gumbel_max": "games.population.sac.env",
    "RelationalNet": "games.population.sac.networks",
    "Encoder": "games.population.sac.networks",
    "LatentTable": "games.population.sac.networks",
    "polyak_update": "games.population.sac.networks",
    "ReplayBuffer": "games.population.sac.buffer",
    "SACConfig": "games.population.sac.loss",
    "SACLoss": "games.population.sac.loss",
    "sac_loss": "games.population.sac.loss",
    "soft_value": "games.population.sac.loss",
    "soft_target": "games.population.sac.loss",
    "contrastive_mi": "games.population.sac.loss",
    "GridSACModel": "games.population.sac.trainer",
    "train_latent_sac": "games.population.sac.trainer",
    "sac_best_response": "games.population.sac.trainer",
    "NashConvEstimate": "games.population.sac.evaluation",
    "episode_returns": "games.population.sac.evaluation",
    "approximate_nash_conv": "games.population.sac.evaluation",
    "latent_gradient": "games.population.sac.adaptation",
    "adapt": "games.population.sac.adaptation",
    "adapt_path": "games.population.sac.adaptation",
}
__all__, __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
