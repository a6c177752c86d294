r"""Optimistic actor-critic with rare switching (Tan, Fan & Wei, ICML 2025), its variants and baselines.

**Reconstruction.** The paper's algorithm box could not be read; this module implements the
reconstruction recorded in ``docs/experiments.md`` (section "Optimistic actor-critic with rare
switching"), whose structure is fixed by the abstract and the paper's figure caption: an *off-policy
critic that targets Q\** using all data, *optimism*, and *rare-switching
policy resets*. Per episode :math:`t` and step :math:`h`:

* **Critic** (recomputed only at switches, from all data, tabular UCBVI-Hoeffding form):

  .. math:: \bar Q_h(s,a) = \min\Big\{H-h,\ \hat r_h(s,a) + \hat P_h(\cdot|s,a)^\top \bar V_{h+1}
            + b_h(s,a)\Big\},\quad \bar V_{h+1}(s) = \max_a \bar Q_{h+1}(s,a),

  :math:`b_h(s,a) = c_b (H-h)\sqrt{\log(SAHT/\delta)/\max(1,N_h(s,a))}` and :math:`\bar Q = H-h` on
  unvisited pairs (optimism). ``optimism=False`` drops the bonus and sets unvisited pairs to 0.
  Linear critic (``critic="linear"``, LSVI-UCB of Jin et al. 2020):
  :math:`\Lambda_h = \lambda I + \sum\phi\phi^\top`,
  :math:`w_h = \Lambda_h^{-1}\sum\phi(s,a)[r + \max_{a'}\bar Q_{h+1}(s',a')]`,
  :math:`\bar Q_h = \min\{H-h, \phi^\top w_h + \beta\|\phi\|_{\Lambda_h^{-1}}\}`.
* **Rare switching**: the critic used by the actor changes only when some count :math:`N_h(s,a)` has
  doubled since the last switch (tabular; at most :math:`SAH\log_2 T` switches) or when
  :math:`\log\det\Lambda_h - \log\det\Lambda_h^{\text{last}} > \log 2` for some :math:`h` (linear).
* **Actor**: policy mirror descent (softmax/NPG) on the current critic,
  :math:`\pi^{t+1}_h(\cdot|s) \propto \pi^t_h(\cdot|s)\exp(\eta_\tau \bar Q_h(s,\cdot))`,
  :math:`\eta_\tau = \sqrt{\log|A|/\tau}` with :math:`\tau` the episodes since the last reset (the theory's
  step carries a further :math:`1/H`; without it the actor matches the reconstruction's prototype — a
  reconstructed constant, ``actor_scale`` rescales it); with
  ``reset=True`` the logits return to zero (uniform policy) at every switch.

Regret is exact: every episode's policy is evaluated on the true model by batched backward induction
and compared with :math:`V^*` from :func:`mdp.planning.backward_induction` — never Monte Carlo.
All seeds run as one torch program (leading batch axis), on CPU or CUDA.

Baselines (same code path): :func:`ucbvi` (greedy on the critic, recomputed every episode),
``optimistic_actor_critic(..., reset=False)`` and ``(..., optimism=False)``, :func:`lsvi_ucb`
(greedy linear critic, every episode) and its rare-switching form ``lsvi_ucb(..., rare_switching=True)``.
The hybrid variant passes ``offline_data`` (:func:`collect_offline_data`), which pre-fills the counts /
Gram matrices; :func:`concentrability` computes the single-policy concentrability :math:`c^*` exactly.
"""
from __future__ import annotations

import math
import sys
from dataclasses import dataclass

import numpy as np
import torch

from mdp.actor_critic_parts import (GreedyActor, LinearCritic, SoftmaxActor, TabularCritic,
                                    switch_every_episode, switch_on_doubling)
from mdp.batched import BatchedTabularMDP
from mdp.batched_planning import batched_backward_induction
from mdp.model import FiniteHorizonMDP, LinearMDP, ModelError, ShapeError, validate_policy
from mdp.occupancy import finite_horizon_occupancy
from mdp.planning import backward_induction
from theory.results import SolverResult

__all__ = ["ActorCriticResult", "ActorCriticSolver", "OfflineData", "optimistic_actor_critic", "ucbvi", "lsvi_ucb",
           "collect_offline_data", "behaviour_policy", "concentrability"]


@dataclass(frozen=True)
class OfflineData:
    """``N`` offline trajectories: ``states[N, H+1]``, ``actions[N, H]``, ``rewards[N, H]`` (int/float arrays)."""

    states: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray

    @property
    def size(self) -> int:
        return int(self.actions.shape[0])


@dataclass(frozen=True)
class ActorCriticResult(SolverResult):
    """``regret[seeds, T]`` (cumulative, exact), ``values[seeds, T]`` (exact :math:`V^{\\pi_t}(\\mu)`),
    ``v_star``, ``switches[seeds, T]`` (cumulative critic switches), ``policy[seeds, H, S, A]`` (final actor),
    ``solver`` (the variant's name).

    Base fields (:class:`theory.results.SolverResult`): ``residual[seeds]`` the exact sub-optimality
    :math:`V^*(\\mu) - V^{\\pi_T}(\\mu)` of the last episode's policy (the last regret increment,
    clipped at 0 against round-off);
    ``iterations`` the episodes run; ``error_bound`` and ``converged`` are ``None`` (a learner with a fixed
    episode budget has no stopping test and no certificate for its final actor).
    """

    regret: np.ndarray
    values: np.ndarray
    v_star: float
    switches: np.ndarray
    policy: np.ndarray
    solver: str

    @property
    def total_switches(self) -> np.ndarray:
        return self.switches[:, -1]


def _as_finite_horizon(m, critic):
    if critic == "linear":
        if not isinstance(m, LinearMDP) or m.H is None:
            raise ModelError(f"critic='linear' needs an episodic LinearMDP, got {m!r}")
        return m.to_tabular(), m.phi
    if critic != "tabular":
        raise ValueError(f"critic must be 'tabular' or 'linear', got {critic!r}")
    if isinstance(m, LinearMDP):
        if m.H is None:
            raise ModelError("the actor-critic needs a finite-horizon model (LinearMDP with H)")
        return m.to_tabular(), None
    if not isinstance(m, FiniteHorizonMDP):
        raise ModelError(f"the actor-critic needs a FiniteHorizonMDP, got {type(m).__name__}")
    return m, None


def _check_offline(data: OfflineData | None, S: int, A: int, H: int):
    if data is None:
        return
    if not isinstance(data, OfflineData):
        raise TypeError(f"offline_data must be an OfflineData, got {type(data).__name__}")
    s, a, r = np.asarray(data.states), np.asarray(data.actions), np.asarray(data.rewards)
    N = a.shape[0]
    if s.shape != (N, H + 1) or a.shape != (N, H) or r.shape != (N, H):
        raise ShapeError(f"offline data shapes states {s.shape}, actions {a.shape}, rewards {r.shape}; expected "
                         f"({N}, {H + 1}), ({N}, {H}), ({N}, {H})")
    for name, x, hi in (("states", s, S), ("actions", a, A)):
        bad = np.argwhere((x < 0) | (x >= hi))
        if bad.size:
            i = tuple(bad[0])
            raise ValueError(f"offline {name}[{i[0]}, {i[1]}] = {x[i]} is outside 0..{hi - 1}")
    if not np.isfinite(r).all():
        raise ValueError("offline rewards contain non-finite values")


# ----------------------------------------------------------------------------------------------
# The batched learner
# ----------------------------------------------------------------------------------------------
class ActorCriticSolver:
    """The batched learner as a stepping object: one :meth:`step` is one episode of every run.

    ``B = seeds`` runs share one torch program. A step evaluates the current policy exactly (batched backward
    induction on the true model), rolls it out once, adds the episode to the critic's data, applies the
    switching rule and updates the actor. :meth:`result` reports the episodes stepped so far.
    The pieces (critic, switching rule, actor) are those of :mod:`mdp.actor_critic_parts`.
    """

    def __init__(self, m, *, episodes, seeds, seed, optimism, reset, actor, switching, offline_data, critic,
                 bonus_scale, delta, device, ridge, beta_scale, name, actor_scale=1.0):
        if isinstance(episodes, bool) or not isinstance(episodes, (int, np.integer)) or episodes < 1:
            raise ValueError(f"episodes must be an integer >= 1, got {episodes!r}")
        if isinstance(seeds, bool) or not isinstance(seeds, (int, np.integer)) or seeds < 1:
            raise ValueError(f"seeds must be an integer >= 1, got {seeds!r}")
        fh, phi = _as_finite_horizon(m, critic)
        H, S, A, B, T = fh.H, fh.S, fh.A, int(seeds), int(episodes)
        _check_offline(offline_data, S, A, H)
        dev = torch.device(device)
        dt = torch.float64
        self.episodes, self.name, self.t = T, name, 0
        gen = torch.Generator(device=dev).manual_seed(int(seed))
        self.sim = BatchedTabularMDP(fh, B, device=dev, generator=gen, dtype=dt)
        self.P_true = torch.as_tensor(np.array(fh.P), device=dev, dtype=dt).expand(B, H, S, A, S)
        self.R_true = torch.as_tensor(np.array(fh.R), device=dev, dtype=dt).expand(B, H, S, A)
        self.mu = torch.as_tensor(np.array(fh.mu), device=dev, dtype=dt)
        self.v_star = backward_induction(fh).value
        if critic == "linear":
            Phi = torch.as_tensor(np.array(phi), device=dev, dtype=dt)  # [S, A, d]
            d = Phi.shape[-1]
            cap = T + (offline_data.size if offline_data is not None else 0)
            beta = beta_scale * d * H * math.sqrt(math.log(d * H * T / delta))
            self.critic = LinearCritic(B, H, S, A, dev, dt, optimism, Phi, ridge, cap, beta)
        else:
            self.critic = TabularCritic(B, H, S, A, dev, dt, optimism, bonus_scale, math.log(S * A * H * T / delta))
        self.switch = switch_every_episode if switching == "every" else switch_on_doubling
        self.actor = GreedyActor(A, dt) if actor == "greedy" else SoftmaxActor(B, H, S, A, dev, dt, reset,
                                                                                 actor_scale)
        if offline_data is not None:
            st = torch.as_tensor(offline_data.states, device=dev, dtype=torch.long)
            ac = torch.as_tensor(offline_data.actions, device=dev, dtype=torch.long)
            rw = torch.as_tensor(offline_data.rewards, device=dev, dtype=dt)
            for j in range(offline_data.size):
                self.critic.add(st[j][:, None].expand(H + 1, B), ac[j][:, None].expand(H, B),
                                rw[j][:, None].expand(H, B))
        self.Q = self.critic.compute()
        self.critic.start()
        self.values = np.zeros((B, T))
        self.switches = np.zeros((B, T), dtype=np.int64)
        self.n_switch = torch.zeros(B, dtype=torch.long, device=dev)

    def step(self) -> None:
        """One episode of every run (at most ``episodes`` steps)."""
        t = self.t
        if t >= self.episodes:
            raise RuntimeError(f"{self.name}: all {self.episodes} episodes are done")
        pi = self.actor.policy(self.Q)
        Vpi, _ = batched_backward_induction(self.P_true, self.R_true, pi)
        self.values[:, t] = (Vpi[:, 0] @ self.mu).cpu().numpy()
        roll = self.sim.rollout(pi)
        self.critic.add(roll.states, roll.actions, roll.rewards)
        self.Q, switched = self.switch(self.critic, self.Q)
        self.n_switch += switched.long()
        self.switches[:, t] = self.n_switch.cpu().numpy()
        self.actor.update(self.Q, switched)
        self.t = t + 1

    def result(self) -> ActorCriticResult:
        """The result over the ``t`` episodes stepped so far (``regret``, ``values``, ``switches`` ``[B, t]``)."""
        t = self.t
        values = self.values[:, :t]
        regret = np.cumsum(self.v_star - values, axis=1)
        last_gap = np.maximum(self.v_star - values[:, -1], 0.0) if t else np.zeros(values.shape[0])
        return ActorCriticResult(regret, values, self.v_star, self.switches[:, :t],
                                 self.actor.final(self.Q).cpu().numpy(), self.name, residual=last_gap, iterations=t)


def _run(m, *, progress=True, callback=None, **kwargs) -> ActorCriticResult:
    """``episodes`` steps of :class:`ActorCriticSolver`, calling ``callback(solver)`` after each."""
    solver = ActorCriticSolver(m, **kwargs)
    iterator = range(solver.episodes)
    if progress and sys.stderr.isatty():
        from tqdm import tqdm

        iterator = tqdm(iterator, desc=solver.name, leave=False)
    for _ in iterator:
        solver.step()
        if callback is not None:
            callback(solver)
    return solver.result()


def optimistic_actor_critic(m, episodes: int, seeds: int, seed: int = 0, optimism: bool = True,
                            reset: bool = True, offline_data: OfflineData | None = None, critic: str = "tabular",
                            bonus_scale: float = 0.05, delta: float = 0.1, device="cpu", ridge: float = 1.0,
                            beta_scale: float = 0.01, progress: bool = True, callback=None) -> ActorCriticResult:
    """Optimistic actor-critic with rare switching and actor resets (reconstruction; see the module doc).

    Args:
      m: :class:`FiniteHorizonMDP` (tabular critic) or episodic :class:`LinearMDP` (``critic="linear"``).
      episodes: T; seeds: batch size (independent runs); seed: root seed of the run.
      optimism: UCB bonus and optimistic unvisited pairs (False: the non-optimistic variant).
      reset: reset the actor at every critic switch (False: logits accumulate across critics).
      offline_data: hybrid variant; pre-fills the critic's data.
      bonus_scale: :math:`c_b` of the tabular bonus; ``beta_scale``: :math:`c_\\beta` of the linear bonus
        (the reconstruction's practical constants; the theory's constants are larger).
      callback: called as ``callback(solver)`` after every episode with the :class:`ActorCriticSolver`
        (its ``t``, ``Q``, ``actor``, ``critic``, ``values[:, :t]``); ``solver.result()`` is the run so far.

    Returns:
        :class:`ActorCriticResult` with exact cumulative ``regret[seeds, T]``, critic ``switches[seeds, T]``,
        the final ``policy[seeds, H, S, A]`` and the per-episode exact ``values``.

    Example:
        >>> from mdp.generators import combination_lock
        >>> m = combination_lock(H=3, A=2, seed=0)
        >>> r = optimistic_actor_critic(m, episodes=200, seeds=2, seed=0, progress=False)
        >>> r.regret.shape
        (2, 200)
    """
    name = "optac" + ("" if optimism else "-no-optimism") + ("" if reset else "-no-reset")
    return _run(m, episodes=episodes, seeds=seeds, seed=seed, optimism=optimism, reset=reset, actor="softmax",
                switching="doubling", offline_data=offline_data, critic=critic, bonus_scale=bonus_scale,
                delta=delta, device=device, ridge=ridge, beta_scale=beta_scale, name=name, progress=progress,
                callback=callback)


def ucbvi(m, episodes: int, seeds: int, seed: int = 0, bonus_scale: float = 0.05, delta: float = 0.1,
          offline_data: OfflineData | None = None, device="cpu", progress: bool = True,
          callback=None) -> ActorCriticResult:
    """UCBVI-Hoeffding (Azar et al. 2017): greedy on the optimistic critic, recomputed every episode
    (``callback(solver)`` after every episode, as in :func:`optimistic_actor_critic`)."""
    return _run(m, episodes=episodes, seeds=seeds, seed=seed, optimism=True, reset=True, actor="greedy",
                switching="every", offline_data=offline_data, critic="tabular", bonus_scale=bonus_scale,
                delta=delta, device=device, ridge=1.0, beta_scale=0.0, name="ucbvi", progress=progress,
                callback=callback)


def lsvi_ucb(m: LinearMDP, episodes: int, seeds: int, seed: int = 0, rare_switching: bool = False,
             beta_scale: float = 0.01, ridge: float = 1.0, delta: float = 0.1, device="cpu",
             progress: bool = True, callback=None) -> ActorCriticResult:
    """LSVI-UCB (Jin et al. 2020), greedy; ``rare_switching=True`` recomputes only on log-det doubling
    (Wang, Zhou & Gu 2021); ``callback(solver)`` after every episode."""
    return _run(m, episodes=episodes, seeds=seeds, seed=seed, optimism=True, reset=True, actor="greedy",
                switching="doubling" if rare_switching else "every", offline_data=None, critic="linear",
                bonus_scale=0.0, delta=delta, device=device, ridge=ridge, beta_scale=beta_scale,
                name="lsvi-ucb" + ("-rs" if rare_switching else ""), progress=progress, callback=callback)


# ----------------------------------------------------------------------------------------------
# Offline data and concentrability
# ----------------------------------------------------------------------------------------------
def behaviour_policy(m: FiniteHorizonMDP, mix: float) -> np.ndarray:
    r"""``mix * pi* + (1 - mix) * uniform`` (``[H, S, A]``) with :math:`\pi^*` from backward induction."""
    if not 0.0 <= mix <= 1.0:
        raise ValueError(f"mix must lie in [0, 1], got {mix}")
    pi_star = backward_induction(m).policy
    return mix * pi_star + (1 - mix) / m.A


def collect_offline_data(m: FiniteHorizonMDP, behaviour, n_trajectories: int, seed: int = 0) -> OfflineData:
    """Roll out ``behaviour[H, S, A]`` for ``n_trajectories`` episodes with the shared simulator."""
    if n_trajectories < 1:
        raise ValueError(f"n_trajectories must be >= 1, got {n_trajectories}")
    pi = validate_policy(behaviour, m.S, m.A, H=m.H, name="behaviour")
    sim = BatchedTabularMDP(m, int(n_trajectories), generator=torch.Generator().manual_seed(seed),
                            dtype=torch.float64)
    roll = sim.rollout(pi)
    return OfflineData(roll.states.T.numpy().copy(), roll.actions.T.numpy().copy(), roll.rewards.T.numpy().copy())


def concentrability(m: FiniteHorizonMDP, behaviour) -> float:
    r"""Single-policy concentrability :math:`c^* = \max_{h,s,a} d^{\pi^*}_h(s,a)/d^{\mu}_h(s,a)`, computed
    exactly from the occupancy measures of :math:`\pi^*` and the behaviour policy (``inf`` when the
    behaviour misses a pair that :math:`\pi^*` visits)."""
    pi = validate_policy(behaviour, m.S, m.A, H=m.H, name="behaviour")
    d_star = finite_horizon_occupancy(m, backward_induction(m).policy)
    d_mu = finite_horizon_occupancy(m, pi)
    support = d_star > 1e-15
    if np.any(support & (d_mu <= 1e-300)):
        return math.inf
    return float(np.max(d_star[support] / d_mu[support]))
