r"""C-MORL (Liu et al., ICLR 2025): Pareto-front search by initialisation and constrained extension.

**Stage one** (initialisation): for each preference :math:`w` of the depth-first simplex grid
:func:`~mdp.multiobjective.simplex_grid` ``(m, delta)`` train a policy for the scalarised reward
:math:`w^\top r`; every evaluated iterate enters the archive.

**Stage two** (extension), repeated for ``rounds`` rounds:

1. prune the archive to its non-dominated points that weakly dominate the reference point :math:`z`;
   cap it at ``archive_size`` points by crowding distance;
2. select the ``n_select`` points of largest NSGA-II crowding distance that were never selected before
   (``selection="random"``: uniformly among those never selected; an ablation);
3. for each selected policy :math:`\pi_r` and each objective :math:`l` solve the ε-constraint problem

   .. math:: \max_\pi G^\pi_l \quad\text{s.t.}\quad G^\pi_j \ge d_j \ (j \ne l)

   with thresholds (``threshold=``) ``"literal"`` :math:`d_j = \beta G_j^{\pi_r}`, ``"ref"``
   :math:`d_j = z_j + \beta (G^{\pi_r}_j - z_j)` (sign-invariant; :math:`\pi_r` strictly feasible when
   :math:`G^{\pi_r} > z`) or ``"relax"`` :math:`d_j = G^{\pi_r}_j - (1-\beta)|G^{\pi_r}_j|`.

Two solvers of both stages:

* ``solver="oracle"``: stage one solves each scalarised MDP exactly (policy iteration); stage two solves
  the ε-constraint problem exactly by the occupancy LP (:func:`~mdp.multiobjective.epsilon_constraint`),
  whose optimum may be a stochastic policy. The budget is counted in oracle calls. With
  ``policy_class="deterministic"`` (deterministic-transition models) stage two instead solves the problem over
  deterministic stationary policies exactly (:func:`~mdp.multiobjective.deterministic_epsilon_constraint`:
  the best feasible point of the set-valued-VI front, policy recovered and checked), so every archived
  policy is deterministic (stage one's policy-iteration optima already are).
* ``solver="barrier"``: the interior-point dynamics of the paper (IPO, Liu, Ding & Liu 2020) with exact
  gradients on tabular softmax policies, batched over all (preference) or all (selected policy,
  objective) pairs in one torch program. Stage one is natural policy gradient (NPG)
  :math:`\theta \leftarrow \theta + \tfrac{\eta}{1-\gamma} A_w^{\pi_\theta}` (Agarwal et al. 2021,
  eq. 12). Stage two is barrier NPG on :math:`J_l + \tfrac1t\sum_{j\ne l}\log(J_j - d_j)`:

  .. math:: \theta \leftarrow \theta + \tfrac{\eta}{1-\gamma}\Big(A_l + \sum_{j \ne l}
     \frac{A_j}{t\,(J_j - d_j)}\Big),

  halving the step (at most 20 times) when a constraint would be violated. ``iterations_per_round``
  updates per round; every iterate enters the archive, evaluated as the stochastic policy
  (``evaluate="stochastic"``) or, as C-MORL's code does, as its greedy policy (``"greedy"``).
  The budget is counted in policy updates (an extension whose start violates a threshold is skipped but
  still charged, as an infeasible LP is in the oracle solver).

``quirks=True`` (barrier solver; an ablation) replaces stage two by the released code's step
(:func:`~mdp.multiobjective.cmorl_barrier.code_quirk_direction`,
:func:`~mdp.multiobjective.cmorl_barrier.code_quirk_extension`): (a) the barrier threshold is
:math:`\beta J_j` of the *current* iterate (recomputed every update) rather than of the selected policy,
(b) the barrier also covers the maximised objective, (c) for each selected policy the objectives are
extended one after the other, objective :math:`l+1` starting where objective :math:`l`'s run ended.

Reconstruction: the paper's constrained step is read as the ε-constraint problem above (its abstract; the
released code bounds a batch surrogate instead, see ``docs/experiments.md#multiobjective_dst``); the
threshold conventions, the exact-LP oracle, the exact-gradient barrier NPG (our rendering of the paper's
interior-point step), the step halving and the lexicographic second LP are this package's tabular
rendering of it.

Example:
    >>> from mdp.envs.deep_sea_treasure import deep_sea_treasure
    >>> res = cmorl(deep_sea_treasure("concave", 0.99), seed=0, ref=[0, -25])
    >>> res.front.shape[1], bool(res.hypervolume[-1] > res.hypervolume[0])
    (2, True)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from cvxpy.error import SolverError

from mdp.model import ModelError, TabularMDP
from mdp.multiobjective.cmorl_barrier import (ParetoArchive, _archive_batch, _barrier_stage, _npg_stage,
                                              code_quirk_extension)
from mdp.multiobjective.deterministic_fronts import deterministic_epsilon_constraint, pareto_value_iteration
from mdp.multiobjective.fronts import epsilon_constraint, require_multiobjective, scalarised_optimum
from mdp.multiobjective.metrics import (as_front, check_weights, crowding_distance, energy_weights, simplex_grid)
from theory.results import SolverResult
from theory.validation import ParameterError, check_scalar

__all__ = ["CMORLResult", "CMORLSolver", "cmorl", "linear_scalarisation", "thresholds", "default_ref", "check_ref",
           "utility_gap", "weight_set"]

THRESHOLDS = ("literal", "ref", "relax")


@dataclass(frozen=True)
class CMORLResult(SolverResult):
    r"""Result of :func:`cmorl` / :func:`linear_scalarisation` (the base fields of
    :class:`theory.results.SolverResult` are keyword-only).

    Attributes:
        front: ``[k, m]`` exact value vectors of the returned policies (the Pareto-filtered archive above
            the reference point).
        policies: ``[k, S, A]`` the returned policies.
        hypervolume: ``[rounds + 1]`` hypervolume of the archive after stage one and after each round.
        budget: ``[rounds + 1]`` cumulative budget (oracle calls or policy updates) at those points.
        residual: maximum utility loss of ``front`` on the weight set ``W`` (``eval_weights``):
            :math:`\max_{w\in W}[\max_\pi w^\top G^\pi - \max_{p \in F} w^\top p]`, the optima by policy
            iteration (0 when the front attains every scalarised optimum of ``W``).
        error_bound: ``None`` (no certified distance to the Pareto front); converged: ``None`` (a fixed
            budget, no stopping test).
        iterations: extension rounds run; ``oracle_calls``: total budget used.
        ref: the reference point used.
    """

    front: np.ndarray
    policies: np.ndarray
    hypervolume: np.ndarray
    budget: np.ndarray
    ref: np.ndarray


def thresholds(G, beta: float, ref, mode: str = "ref") -> np.ndarray:
    """The ε-constraint thresholds ``d`` ``[m]`` of a selected value vector ``G`` (see the module docstring)."""
    G = np.asarray(G, dtype=float)
    z = np.asarray(ref, dtype=float)
    if mode == "literal":
        return beta * G
    if mode == "ref":
        return z + beta * (G - z)
    if mode == "relax":
        return G - (1.0 - beta) * np.abs(G)
    raise ParameterError(f"threshold must be one of {THRESHOLDS}, got {mode!r}")


def default_ref(m: TabularMDP) -> np.ndarray:
    r"""A reference point below every achievable value: :math:`\min_{s,a} R_k/(1-\gamma) - 1` per objective."""
    require_multiobjective(m, "default_ref")
    lo = m.R.reshape(-1, m.R.shape[2]).min(0)
    return np.minimum(lo, 0.0) / (1.0 - m.gamma) - 1.0


def check_ref(m: TabularMDP, ref, who: str) -> np.ndarray:
    r"""The reference point ``ref`` ``[k]`` (default :func:`default_ref`), refused before any work when no
    policy can reach it: the archive keeps values :math:`G \ge z`, and :math:`G_j \le \max_\pi G^\pi_j` (the
    ideal point, ``k`` exact scalarised solves), so :math:`z_j > \max_\pi G^\pi_j` for some ``j`` would leave
    the front empty whatever the budget."""
    k = require_multiobjective(m, who)
    if ref is None:
        return default_ref(m)
    z = as_front("ref", ref, k)[0]
    ideal = np.array([scalarised_optimum(m, np.eye(k)[j])[0][j] for j in range(k)])
    above = np.flatnonzero(z > ideal + 1e-12 * (1 + np.abs(ideal)))
    if above.size:
        j = int(above[0])
        raise ParameterError(f"{who}: ref={z.tolist()} is above every achievable value in objective {j} "
                             f"(ref[{j}] = {z[j]:.6g} > max over policies {ideal[j]:.6g}; ideal point "
                             f"{ideal.tolist()}): the front would be empty. Pass a ref below the ideal point")
    return z


def _result(m, archive, hv, spent, W_eval, rounds, budget, z) -> CMORLResult:
    r"""The result; an archive left empty (no policy found with :math:`G \ge z`) gives a ``[0, k]`` front,
    hypervolume 0 and utility loss ``inf``."""
    k = m.R.shape[2]
    if not archive.G:
        return CMORLResult(np.zeros((0, k)), np.zeros((0, m.S, m.A)), np.array(hv), np.array(spent), z,
                           residual=float("inf"), error_bound=None, converged=None, iterations=rounds,
                           oracle_calls=budget)
    F, Pi = np.array(archive.G), np.array(archive.pi)
    return CMORLResult(F, Pi, np.array(hv), np.array(spent), z, residual=utility_gap(m, F, W_eval), error_bound=None,
                       converged=None, iterations=rounds, oracle_calls=budget)


def utility_gap(m: TabularMDP, front, weights) -> float:
    """Maximum utility loss of ``front`` on ``weights`` against exact scalarised optima (policy iteration)."""
    F = as_front("front", front)
    opt = np.array([w @ scalarised_optimum(m, w)[0] for w in weights])
    return float(max(0.0, np.max(opt - (weights @ F.T).max(1))))


def _select(archive: ParetoArchive, n: int, selected: set, selection: str, rng) -> list[int]:
    if not archive.G:
        return []                                          # nothing above ref to extend
    G = np.array(archive.G)
    fresh = [i for i in range(len(G)) if tuple(np.round(G[i], 12)) not in selected]
    if selection == "random":
        return sorted(rng.choice(fresh, size=min(n, len(fresh)), replace=False).tolist()) if fresh else []
    cd = crowding_distance(G)
    fresh_set = set(fresh)
    order = [i for i in np.argsort(-cd, kind="stable") if i in fresh_set]
    return order[:n]


def _oracle_init(self, W0) -> int:
    """Stage one, exact: one scalarised solve (policy iteration) per preference."""
    for w in W0:
        G, pi = scalarised_optimum(self.m, w)
        self.archive.add(G, pi)
    return len(W0)


def _barrier_init(self, W0) -> int:
    """Stage one, barrier solver: ``init_iterations`` exact-gradient NPG updates per preference, batched."""
    import torch

    theta = torch.zeros((len(W0), self.m.S, self.m.A), dtype=torch.float64, device=self.device)
    _npg_stage(self.m, theta, W0, self.init_iterations, self.eta, self.evaluate, self.archive, self.device)
    return len(W0) * self.init_iterations


def _oracle_extension(self, picks, jobs) -> None:
    """Stage two, exact: the ε-constraint LP (or the deterministic-policy oracle) per job; one call each."""
    for pi_r, l, d in jobs:
        self.budget += 1
        try:
            res = (epsilon_constraint(self.m, l, d, lexicographic=self.lexicographic, solver=self.lp_solver)
                   if self.pareto is None else deterministic_epsilon_constraint(self.m, l, d, self.pareto))
        except (ModelError, SolverError):
            continue                              # infeasible thresholds: the call is still spent
        self.archive.add(res.value, res.policy)


def _quirk_extension(self, picks, jobs) -> None:
    """Stage two, the released code's step (:func:`~mdp.multiobjective.cmorl_barrier.code_quirk_extension`)."""
    its = code_quirk_extension(self.m, np.stack([self.archive.pi[i] for i in picks]), self.iterations_per_round,
                               self.eta, self.t, self.beta, self.device)
    for pol in its:
        _archive_batch(self.m, pol, self.evaluate, self.archive, self.device)
    self.budget += len(jobs) * self.iterations_per_round


def _barrier_extension(self, picks, jobs) -> None:
    """Stage two, barrier NPG on every (selected policy, objective) job at once."""
    pis = np.stack([j[0] for j in jobs])
    _barrier_stage(self.m, pis, [j[1] for j in jobs], np.stack([j[2] for j in jobs]), self.iterations_per_round,
                   self.eta, self.t, self.evaluate, self.archive, self.device)
    self.budget += len(jobs) * self.iterations_per_round


class CMORLSolver:
    """C-MORL as a stepping object: the constructor runs stage one, one :meth:`step` is one extension round.

    Arguments as :func:`cmorl` (``rounds`` is the budget of steps). Stage one and stage two are named pieces
    chosen once from ``solver`` / ``quirks`` (:func:`_oracle_init` / :func:`_barrier_init`;
    :func:`_oracle_extension`, :func:`_barrier_extension`, :func:`_quirk_extension`).
    :meth:`result` reports the rounds stepped so far.
    """

    def __init__(self, m: TabularMDP, seed: int = 0, *, ref=None, delta: float | None = None, n_select: int = 5,
                 rounds: int = 6, beta: float = 0.9, threshold: str = "ref", solver: str = "oracle",
                 selection: str = "crowding", evaluate: str = "stochastic", init_iterations: int = 20,
                 iterations_per_round: int = 20, eta: float = 1.0, t: float = 20.0, archive_size: int = 200,
                 eval_weights=None, device: str = "cpu", lp_solver: str = "HIGHS",
                 track_hypervolume: bool | None = None, policy_class: str = "stochastic",
                 quirks: bool = False, lexicographic: bool = True):
        k = require_multiobjective(m, "cmorl")
        seed = check_scalar("seed", seed, low=0, integer=True)
        z = check_ref(m, ref, "cmorl")
        delta = ({2: 0.2, 3: 0.5}.get(k, 1.0)) if delta is None else delta
        n_select = check_scalar("n_select", n_select, low=1, integer=True)
        rounds = check_scalar("rounds", rounds, low=0, integer=True)
        beta = check_scalar("beta", beta, low=0.0, high=1.0)
        if threshold not in THRESHOLDS:
            raise ParameterError(f"threshold must be one of {THRESHOLDS}, got {threshold!r}")
        if solver not in ("oracle", "barrier"):
            raise ParameterError(f"solver must be 'oracle' or 'barrier', got {solver!r}")
        if selection not in ("crowding", "random"):
            raise ParameterError(f"selection must be 'crowding' or 'random', got {selection!r}")
        if evaluate not in ("stochastic", "greedy"):
            raise ParameterError(f"evaluate must be 'stochastic' or 'greedy', got {evaluate!r}")
        if policy_class not in ("stochastic", "deterministic"):
            raise ParameterError(f"policy_class must be 'stochastic' or 'deterministic', got {policy_class!r}")
        if policy_class == "deterministic" and solver != "oracle":
            raise ParameterError(f"policy_class='deterministic' needs solver='oracle', got solver={solver!r}")
        if quirks and solver != "barrier":
            raise ParameterError(f"quirks=True needs solver='barrier', got solver={solver!r}")
        pareto = pareto_value_iteration(m) if policy_class == "deterministic" else None
        init_iterations = check_scalar("init_iterations", init_iterations, low=1, integer=True)
        iterations_per_round = check_scalar("iterations_per_round", iterations_per_round, low=1, integer=True)
        eta = check_scalar("eta", eta, low=0.0, low_open=True)
        t = check_scalar("t", t, low=0.0, low_open=True)
        archive_size = check_scalar("archive_size", archive_size, low=1, integer=True)
        W_eval = energy_weights(k) if eval_weights is None else check_weights("eval_weights", eval_weights, k)
        self.m, self.k, self.z, self.rounds, self.n_select, self.beta = m, k, z, rounds, n_select, beta
        self.threshold, self.selection, self.evaluate, self.pareto = threshold, selection, evaluate, pareto
        self.init_iterations, self.iterations_per_round = init_iterations, iterations_per_round
        self.eta, self.t = eta, t
        self.archive_size, self.W_eval, self.device = archive_size, W_eval, device
        self.lp_solver, self.lexicographic = lp_solver, lexicographic
        self.rng = np.random.default_rng(seed)
        self.archive = ParetoArchive(z, archive_size)
        W0 = simplex_grid(k, delta)
        self.budget = 0
        self.budget += (_oracle_init if solver == "oracle" else _barrier_init)(self, W0)
        self.extend = (_oracle_extension if solver == "oracle" else _quirk_extension if quirks
                       else _barrier_extension)
        self.archive.prune(archive_size)
        track = k <= 6 if track_hypervolume is None else bool(track_hypervolume)
        self.measure = self.archive.hypervolume if track else (lambda: float("nan"))
        self.hv, self.spent = [self.measure()], [self.budget]
        self.selected: set = set()
        self.round = 0

    def step(self) -> None:
        """One extension round: select, extend each selected policy in each objective, prune, measure."""
        self.round += 1
        picks = _select(self.archive, self.n_select, self.selected, self.selection, self.rng)
        if not picks:
            self.hv.append(self.hv[-1])
            self.spent.append(self.budget)
            return
        jobs = []
        for i in picks:
            self.selected.add(tuple(np.round(self.archive.G[i], 12)))
            for l in range(self.k):
                d = thresholds(self.archive.G[i], self.beta, self.z, self.threshold)
                d[l] = -np.inf
                jobs.append((self.archive.pi[i], l, d))
        self.extend(self, picks, jobs)
        self.archive.prune(self.archive_size)
        self.hv.append(self.measure())
        self.spent.append(self.budget)

    def result(self) -> CMORLResult:
        return _result(self.m, self.archive, self.hv, self.spent, self.W_eval, self.round, self.budget, self.z)


def cmorl(m: TabularMDP, seed: int = 0, *, ref=None, delta: float | None = None, n_select: int = 5,
          rounds: int = 6, beta: float = 0.9, threshold: str = "ref", solver: str = "oracle",
          selection: str = "crowding", evaluate: str = "stochastic", init_iterations: int = 20,
          iterations_per_round: int = 20, eta: float = 1.0, t: float = 20.0, archive_size: int = 200,
          eval_weights=None, device: str = "cpu", lp_solver: str = "HIGHS",
          track_hypervolume: bool | None = None, policy_class: str = "stochastic",
          quirks: bool = False, lexicographic: bool = True, callback=None) -> CMORLResult:
    r"""C-MORL on a multi-objective tabular MDP (see the module docstring for the two stages).

    Args:
        m: model with ``R[S, A, k]``.
        seed: seeds the random selection ablation (the rest is deterministic).
        ref: reference point ``[k]`` (default :func:`default_ref`). A ``ref`` above the ideal point in some
            objective (no policy can reach it) is refused with a ``ParameterError`` before any work
            (:func:`check_ref`); if no value found weakly dominates a reachable ``ref``, the result has an
            empty ``[0, k]`` front, hypervolume 0 and ``residual = inf``.
        delta: simplex-grid step of stage one (default 0.2 for 2 objectives, 0.5 for 3, else 1: one-hot).
        n_select: policies extended per round (C-MORL: 5 or 6).
        rounds: extension rounds.
        beta: constraint relaxation coefficient (C-MORL's ``--beta``, default 0.9).
        threshold: ``"ref"`` | ``"literal"`` | ``"relax"``.
        solver: ``"oracle"`` (exact PI / LP) or ``"barrier"`` (exact-gradient NPG / barrier NPG).
        selection: ``"crowding"`` or ``"random"``.
        evaluate: ``"stochastic"`` or ``"greedy"`` evaluation of barrier iterates.
        init_iterations, iterations_per_round: NPG updates per preference / per extension (barrier).
        eta: NPG step size; t: barrier parameter (C-MORL's ``--t``, default 20).
        archive_size: cap of the archive (C-MORL's ``policy_buffer``).
        eval_weights: ``[n, k]`` weights of the reported ``residual`` (default the 50 energy weights).
        device: torch device of the batched barrier solver and evaluations.
        lp_solver: cvxpy solver of the LP oracle.
        track_hypervolume: record the hypervolume after each round (default: for ``k <= 6`` objectives;
            exact hypervolume is exponential in ``k``, about 15 s for 135 points in 9-D); else NaN.
        policy_class: ``"stochastic"`` or ``"deterministic"`` (``solver="oracle"`` on a
            deterministic-transition model: the ε-constraint step over deterministic stationary policies).
        callback: called as ``callback(solver)`` after every round with the :class:`CMORLSolver` (its
            ``round``, ``archive``, ``budget``, ``hv``; ``solver.result()`` is the run so far).

    Returns:
        :class:`CMORLResult`.

    Example (the concave deep-sea treasure has 10 Pareto-optimal treasures; with the default ``beta = 0.9``
    the thresholds :math:`\beta G` of the selected points never ask for the treasures 24, 50 and 74, so
    8 rounds find 7 of them, the 124 treasure included):

        >>> from mdp.envs.deep_sea_treasure import deep_sea_treasure
        >>> res = cmorl(deep_sea_treasure("concave", 0.99), ref=[0, -25], policy_class="deterministic",
        ...             n_select=2, rounds=8)
        >>> len(res.front)
        7
        >>> np.sort(res.front[:, 0]).round(2).tolist()        # discounted treasures 1, 2, 3, 5, 8, 16, 124
        [1.0, 1.96, 2.88, 4.71, 7.46, 14.76, 103.48]
    """
    solver_ = CMORLSolver(m, seed, ref=ref, delta=delta, n_select=n_select, rounds=rounds, beta=beta,
                          threshold=threshold, solver=solver, selection=selection, evaluate=evaluate,
                          init_iterations=init_iterations, iterations_per_round=iterations_per_round, eta=eta, t=t,
                          archive_size=archive_size, eval_weights=eval_weights, device=device, lp_solver=lp_solver,
                          track_hypervolume=track_hypervolume, policy_class=policy_class, quirks=quirks,
                          lexicographic=lexicographic)
    from tqdm import tqdm

    for _ in tqdm(range(solver_.rounds), desc="C-MORL rounds", leave=False, disable=None):
        solver_.step()
        if callback is not None:
            callback(solver_)
    return solver_.result()


def linear_scalarisation(m: TabularMDP, budget: int, *, ref=None, solver: str = "oracle",
                         iterations: int = 20, eta: float = 1.0, evaluate: str = "stochastic",
                         eval_weights=None, device: str = "cpu", track_hypervolume: bool | None = None) -> CMORLResult:
    r"""The baseline at a given budget: scalarised solves on a weight set of the simplex.

    ``solver="oracle"``: ``budget`` exact scalarised solves on the weights of :func:`weight_set`
    ``(k, budget)``. ``solver="barrier"``: ``budget // iterations`` preferences, ``iterations`` NPG
    updates each (every iterate archived, as in C-MORL's stage one). Equivalent to :func:`cmorl` with
    ``rounds=0`` on that weight set.
    """
    k = require_multiobjective(m, "linear_scalarisation")
    budget = check_scalar("budget", budget, low=1, integer=True)
    z = check_ref(m, ref, "linear_scalarisation")
    W_eval = energy_weights(k) if eval_weights is None else check_weights("eval_weights", eval_weights, k)
    archive = ParetoArchive(z)
    if solver == "oracle":
        W = weight_set(k, budget)
        for w in W:
            G, pi = scalarised_optimum(m, w)
            archive.add(G, pi)
        used = len(W)
    elif solver == "barrier":
        import torch

        W = weight_set(k, max(1, budget // iterations))
        theta = torch.zeros((len(W), m.S, m.A), dtype=torch.float64, device=device)
        _npg_stage(m, theta, W, iterations, eta, evaluate, archive, device)
        used = len(W) * iterations
    else:
        raise ParameterError(f"solver must be 'oracle' or 'barrier', got {solver!r}")
    archive.prune(10 ** 9)
    track = k <= 6 if track_hypervolume is None else bool(track_hypervolume)
    hv = archive.hypervolume() if track else float("nan")
    return _result(m, archive, [hv], [used], W_eval, 0, used, z)


def weight_set(k: int, n: int) -> np.ndarray:
    """At most ``n`` weights spread over the ``k``-simplex: ``linspace`` for ``k = 2``, else the finest
    :func:`simplex_grid` with at most ``n`` points (at least the ``k`` one-hot weights)."""
    if k == 2:
        a = np.linspace(0.0, 1.0, max(n, 2))
        return np.stack([a, 1 - a], 1)
    best = np.eye(k)
    for steps in range(1, 200):
        W = simplex_grid(k, 1.0 / steps)
        if len(W) > n:
            break
        best = W
    return best
