r"""A simulated short-video recommender as a constrained MDP, and its gymnasium environment.

The model (a reconstruction for this package: the TSCAC paper trains on logged KuaiRand data and gives
no simulator; see ``docs/experiments.md#constrained_tscac``):

* **States** :math:`s = (z, f)`: the user's current interest :math:`z \in \{0..Z-1\}` and fatigue
  :math:`f \in \{0..F-1\}`, plus one absorbing zero-signal state "left the app" (the last index). A
  session starts at :math:`f = 0` with a uniform interest.
* **Actions** :math:`k \in \{0..K-1\}`: the category of the next video.
* **Affinity** :math:`M[z, k] \sim U[0, 0.5]`, raised to :math:`U[0.8, 1]` for the favourite category of
  each interest (``favourite[z] = z mod K``).
* **Signals** (``signals[s, a, i]``, signal 0 the main one):

  - watch time in seconds, dense: :math:`w(z,f,k) = b_k (0.3 + M[z,k])(1 - 0.45\,\phi)` with
    :math:`\phi = f/(F-1)` and video lengths :math:`b_k \sim U[5, 30]`;
  - like, follow, share, ... (sparse, probabilities): :math:`c_i(z,f,k) = p_{i} q_{ik} M[z,k]` with
    per-signal rates :math:`p_i` (like 0.05, follow 0.004, share 0.01) and per-category propensities
    :math:`q_{ik} = (1 - 0.8\,\mathrm{rank}(b_k)/(K-1))\,u_{ik}`, :math:`u_{ik} \sim U[0.5, 1.5]`: long
    videos are watched longer but liked, followed and shared less (the tension between the main and the
    auxiliary signals), and the jitter :math:`u_{ik}` makes the auxiliary signals disagree with one another.
* **Dynamics** from :math:`(z, f)` under :math:`k`: the user leaves with probability
  :math:`\ell = \mathrm{clip}(0.05 + 0.24\,\phi - 0.05 M[z,k], 0.01, 0.95)`; otherwise fatigue rises by one
  (capped at :math:`F-1`) with probability :math:`0.2 + 0.5\, b_k / \max_j b_j` (longer videos tire more),
  and, independently, the interest moves to the category's fan group (the interest whose favourite
  is :math:`k`, else :math:`k \bmod Z`) with probability ``drift`` (0.2).
* Discount :math:`\gamma` = 0.95 by default.

The design this reconstruction starts from writes fatigue as :math:`(1 - 0.15 f)` and the leave term as
:math:`0.08 f` for :math:`F = 4`; we write them through :math:`\phi = f/(F-1)` so that they keep the same
range for any :math:`F` (at :math:`F = 4` the two agree).

Sampled signals (the environment, the sample-based learners): watch time is its expected value, every
sparse signal a Bernoulli event with probability :math:`c_i(s, a)`.

Example:
    >>> from mdp.envs.recommender import short_video_cmdp
    >>> sv = short_video_cmdp(Z=3, F=3, K=4, seed=0)
    >>> sv.model.R.shape, sv.aux_rewards.shape
    ((10, 4), (3, 10, 4))
"""
from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import numpy as np

from mdp.envs.tabular import TabularEnv
from mdp.model import LinearMDP, ParameterError, TabularMDP
from theory.backend import is_torch
from theory.validation import check_scalar

__all__ = ["ShortVideoCMDP", "short_video_cmdp", "short_video_features", "sample_signals", "ShortVideoEnv",
           "make_short_video", "DEFAULT_AUX"]

DEFAULT_AUX = (("like", 0.05), ("follow", 0.004), ("share", 0.01))
"""Default auxiliary signals and their base rates."""


@dataclass(frozen=True, eq=False)
class ShortVideoCMDP:
    """A short-video CMDP: the main-signal model, the auxiliary signals and the state layout.

    Attributes:
        model: :class:`TabularMDP` whose reward ``R[S, A]`` is the main signal (watch time, seconds).
        aux_rewards: ``[k, S, A]`` expected auxiliary signals (event probabilities per step).
        signal_names: ``(main, aux_1, ..., aux_k)``.
        Z, F, K: interests, fatigue levels, categories; ``S = Z * F + 1`` (the last state: left the app).
        affinity: ``[Z, K]``; lengths: ``[K]`` video lengths ``b_k`` in seconds.
    """

    model: TabularMDP
    aux_rewards: np.ndarray
    signal_names: tuple
    Z: int
    F: int
    K: int
    affinity: np.ndarray
    lengths: np.ndarray

    @property
    def signals(self) -> np.ndarray:
        """``[S, A, 1 + k]``: the main signal then the auxiliary ones."""
        return np.concatenate([self.model.R[..., None], np.moveaxis(self.aux_rewards, 0, -1)], axis=-1)

    @property
    def left_state(self) -> int:
        """Index of the absorbing "left the app" state."""
        return self.Z * self.F

    def state(self, z: int, f: int) -> int:
        """Index of state ``(interest z, fatigue f)``."""
        return int(z) * self.F + int(f)

    def as_linear_mdp(self) -> LinearMDP:
        """The exact linear-MDP form with one-hot features ``phi[S, A, S*A]`` (reward: the main signal)."""
        m = self.model
        phi = np.eye(m.S * m.A).reshape(m.S, m.A, m.S * m.A)
        return LinearMDP(phi, m.P_flat.copy(), m.R.ravel(), gamma=m.gamma, mu=m.mu)


def _int(name, v, low):
    return check_scalar(name, v, low=low, integer=True)


def short_video_cmdp(Z: int = 4, F: int = 4, K: int = 6, gamma: float = 0.95, seed=0, aux=DEFAULT_AUX,
                     drift: float = 0.2) -> ShortVideoCMDP:
    """Draw a short-video CMDP (see the module docstring for every formula).

    Args:
        Z: number of user interests (>= 1).
        F: number of fatigue levels (>= 2).
        K: number of video categories (actions, >= 2).
        gamma: common discount in ``[0, 1)``.
        seed: an int or a ``numpy.random.Generator`` (the model is a pure function of it).
        aux: ``((name, base_rate), ...)`` auxiliary signals, rates in ``(0, 1]``.
        drift: probability that the interest moves to the chosen category's fan group.

    Returns:
        :class:`ShortVideoCMDP` with ``S = Z * F + 1`` states and ``K`` actions.
    """
    Z, F, K = _int("Z", Z, 1), _int("F", F, 2), _int("K", K, 2)
    drift = check_scalar("drift", drift, low=0.0, high=1.0)
    aux = tuple(aux)
    if not aux:
        raise ParameterError("aux must name at least one auxiliary signal")
    for name, rate in aux:
        check_scalar(f"aux rate of {name!r}", rate, low=0.0, high=1.0, low_open=True)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    aff = rng.uniform(0.0, 0.5, size=(Z, K))
    fav = np.arange(Z) % K
    aff[np.arange(Z), fav] = rng.uniform(0.8, 1.0, size=Z)
    lengths = rng.uniform(5.0, 30.0, size=K)
    rank = np.argsort(np.argsort(lengths))
    propensity = (1.0 - 0.8 * rank / (K - 1)) * rng.uniform(0.5, 1.5, size=(len(aux), K))
    fan = np.array([int(np.flatnonzero(fav == k)[0]) if np.any(fav == k) else k % Z for k in range(K)])
    rise = 0.2 + 0.5 * lengths / lengths.max()

    S = Z * F + 1
    left = S - 1
    P = np.zeros((S, K, S))
    R = np.zeros((S, K))
    C = np.zeros((len(aux), S, K))
    for z in range(Z):
        for f in range(F):
            s = z * F + f
            phi = f / (F - 1)
            for k in range(K):
                a = aff[z, k]
                R[s, k] = lengths[k] * (0.3 + a) * (1.0 - 0.45 * phi)
                for i, (_, rate) in enumerate(aux):
                    C[i, s, k] = rate * propensity[i, k] * a
                leave = float(np.clip(0.05 + 0.24 * phi - 0.05 * a, 0.01, 0.95))
                P[s, k, left] = leave
                for z2, pz in ((z, 1.0 - drift), (fan[k], drift)):
                    for f2, pf in ((f, 1.0 - rise[k]), (min(f + 1, F - 1), rise[k])):
                        P[s, k, z2 * F + f2] += (1.0 - leave) * pz * pf
    P[left, :, left] = 1.0
    mu = np.zeros(S)
    mu[np.arange(Z) * F] = 1.0 / Z
    model = TabularMDP(P, R, gamma, mu)
    names = ("watch_time",) + tuple(str(n) for n, _ in aux)
    return ShortVideoCMDP(model, C, names, Z, F, K, aff, lengths)


def short_video_features(sv: ShortVideoCMDP, kind: str = "factored") -> np.ndarray:
    """Linear features ``phi[S, A, d]`` for critics under function approximation.

    Args:
        sv: the CMDP.
        kind: ``"onehot"`` (``d = S*A``, exact: the tabular case) or ``"factored"`` (``d = (Z + F) * K + 1``:
            one-hot (interest, category) and (fatigue, category) blocks plus a "left" indicator; values
            are additive in interest and fatigue, so this is an approximation).

    Returns:
        ``phi[S, A, d]`` (float64; the left state's features are zero except its own indicator).
    """
    S, A = sv.model.S, sv.model.A
    if kind == "onehot":
        return np.eye(S * A).reshape(S, A, S * A)
    if kind != "factored":
        raise ParameterError(f"kind must be 'onehot' or 'factored', got {kind!r}")
    Z, F, K = sv.Z, sv.F, sv.K
    phi = np.zeros((S, A, (Z + F) * K + 1))
    for z in range(Z):
        for f in range(F):
            s = z * F + f
            for k in range(K):
                phi[s, k, z * K + k] = 1.0
                phi[s, k, Z * K + f * K + k] = 1.0
    phi[sv.left_state, :, -1] = 1.0
    return phi


def sample_signals(expected, u):
    r"""Sampled signals from their expectations: the main one as is, each auxiliary one a Bernoulli event.

    Args:
        expected: ``[..., 1 + k]`` expected signals (numpy or torch).
        u: uniforms of the same shape (numpy or torch), the only randomness.

    Returns:
        ``[..., 1 + k]``: ``expected[..., 0]`` and ``1{u < expected[..., i]}`` for ``i >= 1``.
    """
    if is_torch(expected):
        out = (u < expected).to(expected.dtype)
        out[..., 0] = expected[..., 0]
        return out
    out = (np.asarray(u) < expected).astype(np.float64)
    out[..., 0] = np.asarray(expected)[..., 0]
    return out


class ShortVideoEnv(TabularEnv):
    """Gymnasium environment of a :class:`ShortVideoCMDP` (``theorysim/ShortVideo-v0``).

    Observations are state indices (``Discrete(S)``), actions categories (``Discrete(K)``). The reward is
    the main signal (watch time); ``info["signals"]`` is the sampled signal vector ``[1 + k]`` (main first;
    auxiliary signals as Bernoulli events) and ``info["expected_signals"]`` its expectation. The episode
    terminates when the user leaves and is truncated after ``max_steps``.
    """

    def __init__(self, sv: ShortVideoCMDP, max_steps: int = 200, render_mode: str | None = None):
        if not isinstance(sv, ShortVideoCMDP):
            raise TypeError(f"ShortVideoEnv needs a ShortVideoCMDP, got {type(sv).__name__}")
        super().__init__(sv.model, max_steps, render_mode)
        self.cmdp = sv
        self._signals = sv.signals
        self.signal_names = sv.signal_names

    def reset(self, *, seed=None, options=None):
        obs, info = super().reset(seed=seed, options=options)
        return obs, {**info, "signal_names": self.signal_names}

    def step(self, action):
        s = self._state
        obs, reward, terminated, truncated, info = super().step(action)
        expected = self._signals[s, int(action)]
        info = {**info, "expected_signals": expected.copy(),
                "signals": sample_signals(expected, self.np_random.random(expected.shape))}
        return obs, reward, terminated, truncated, info


def make_short_video(**kwargs) -> ShortVideoEnv:
    """``gymnasium.make("theorysim/ShortVideo-v0", Z=..., F=..., K=..., seed=..., max_steps=...)``."""
    max_steps = kwargs.pop("max_steps", 200)
    render_mode = kwargs.pop("render_mode", None)
    return ShortVideoEnv(short_video_cmdp(**kwargs), max_steps, render_mode)


if "theorysim/ShortVideo-v0" not in gym.registry:
    gym.register(id="theorysim/ShortVideo-v0", entry_point="mdp.envs.recommender:make_short_video")
