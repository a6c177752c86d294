r"""Evaluators over the treeplex: sequence form, expected return, best response, exploitability, LP.

All recursions are array operations over the per-depth levels of :class:`games.efg.model.Treeplex`
(one masked reduction and one ``index_add`` per level), on torch tensors with any leading batch axes, so
the same code evaluates one policy exactly in float64 or a batch of policies on a GPU.

* Sequence form (top-down): :math:`x_\varnothing = 1`, :math:`x_{Ia} = x_{p(I)}\,\pi(a\mid I)`.
* Per-sequence payoffs of player :math:`i` against the opponent's sequence-form strategy :math:`y`:
  :math:`g_i[\sigma] = \sum_{z:\sigma_i(z)=\sigma} c(z)\,u_i(z)\,y_{\sigma_{-i}(z)}` (i.e. :math:`A_i y`).
* Bottom-up (per level, deepest first): :math:`v(I) = \mathrm{reduce}_a\, g[Ia]`, then
  :math:`g[p(I)] \mathrel{+}= v(I)`; with ``reduce = max`` the root entry is the best-response value,
  with ``reduce = E_\pi`` every entry :math:`g[Ia]` becomes the counterfactual value of :math:`(I,a)`.
* ``exploitability = NashConv / 2`` (OpenSpiel's convention), with
  :math:`\mathrm{NashConv}(\pi) = \sum_i \max_{\pi_i'} u_i(\pi_i', \pi_{-i}) - u_i(\pi)`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from games.efg.model import ExtensiveFormGame, GameError
from games.efg.policy import TabularPolicy, validate_game_policy
from games.efg.sequence_form import SequenceFormTensors
from theory.backend import is_torch as is_tensor, logsumexp
from theory.results import SolverResult, warn_not_converged


# ----------------------------------------------------------------------------------------------
# Treeplex recursions (torch, batched)
# ----------------------------------------------------------------------------------------------
def sequence_form(T: SequenceFormTensors, player: int, probs: torch.Tensor) -> torch.Tensor:
    """Behavioural ``probs[..., I, A]`` -> sequence-form ``x[..., n_seq]`` (top-down over levels)."""
    P = T.players[player]
    x = probs.new_zeros(*probs.shape[:-2], P.n_seq)
    x[..., 0] = 1.0
    xm = x[..., 1:].unflatten(-1, (P.num_infosets, T.A))
    for s, e in P.levels:
        xm[..., s:e, :] = x[..., P.parent_seq[s:e]].unsqueeze(-1) * probs[..., s:e, :]
    return x


def uniform_rows(mask: torch.Tensor, dtype: torch.dtype | None = None) -> torch.Tensor:
    """Uniform distribution over the legal actions of every row of ``mask[..., A]`` (bool), in ``dtype``.

    The mask is cast before any arithmetic, so a row with :math:`k` legal actions is :math:`1/k` rounded once
    in ``dtype`` (dividing the boolean mask would compute in torch's default float32 and cast afterwards).
    ``dtype`` defaults to torch's default floating dtype.
    """
    m = mask.to(torch.get_default_dtype() if dtype is None else dtype)
    return m / m.sum(-1, keepdim=True)


def behavioural_form(T: SequenceFormTensors, player: int, x: torch.Tensor, floor: float = 0.0) -> torch.Tensor:
    """Sequence form -> behavioural (uniform over legal actions where the parent sequence has mass 0)."""
    P = T.players[player]
    xm = x[..., 1:].unflatten(-1, (P.num_infosets, T.A)).clamp_min(0.0)
    xm = torch.where(P.mask, xm + floor, torch.zeros_like(xm))
    tot = xm.sum(-1, keepdim=True)
    return torch.where(tot > 0, xm / torch.where(tot > 0, tot, torch.ones_like(tot)), uniform_rows(P.mask, xm.dtype))


def sequence_payoffs(T: SequenceFormTensors, player: int, y: torch.Tensor, weight: torch.Tensor | None = None):
    r"""``g[..., n_seq_i]`` with :math:`g[\sigma] = \sum_{z:\sigma_i(z)=\sigma} w(z)\,y_{\sigma_{-i}(z)}`.

    ``weight`` defaults to :math:`c(z) u_i(z)`; pass ``T.terminal_reach`` for the reach channel.
    """
    w = T.terminal_weight[:, player] if weight is None else weight
    vals = y[..., T.terminal_seq[1 - player]] * w
    out = y.new_zeros(*y.shape[:-1], T.players[player].n_seq)
    return out.index_add_(-1, T.terminal_seq[player], vals)


def bottom_up(T: SequenceFormTensors, player: int, g: torch.Tensor, reduce: str, probs: torch.Tensor | None = None):
    """Accumulate information-set values into parent sequences, deepest level first.

    ``reduce``: ``"mean"`` (expectation under ``probs``), ``"max"`` (best response; returns its one-hot
    policy) or ``"lse"`` (log-sum-exp; returns the softmax policy). Returns ``(g_accumulated, policy)``;
    ``g_accumulated[..., 0]`` is the root value and ``g_accumulated[Ia]`` the value of sequence ``Ia``.
    """
    P = T.players[player]
    g = g.clone()
    gm = g[..., 1:].unflatten(-1, (P.num_infosets, T.A))
    out = None if reduce == "mean" else torch.zeros_like(gm)
    for s, e in reversed(P.levels):
        blk = gm[..., s:e, :]
        m = P.mask[s:e]
        if reduce == "mean":
            v = (blk * probs[..., s:e, :]).sum(-1)
        elif reduce == "max":
            z = blk.masked_fill(~m, -torch.inf)
            v, arg = z.max(-1)
            out[..., s:e, :] = torch.nn.functional.one_hot(arg, T.A).to(g.dtype)
        elif reduce == "lse":
            z = blk.masked_fill(~m, -torch.inf)
            v = logsumexp(z, -1)
            out[..., s:e, :] = torch.exp(z - v.unsqueeze(-1))
        else:  # pragma: no cover
            raise ValueError(f"reduce must be mean, max or lse; got {reduce!r}")
        g.index_add_(-1, P.parent_seq[s:e], v)
    return g, out


def expected_payoffs(T: SequenceFormTensors, x0: torch.Tensor, x1: torch.Tensor) -> torch.Tensor:
    """``[..., 2]``: :math:`\\sum_z c(z) u_i(z) x_{\\sigma_0(z)} y_{\\sigma_1(z)}` for both players."""
    r = x0[..., T.terminal_seq[0]] * x1[..., T.terminal_seq[1]]
    return r @ T.terminal_weight


def action_values(T: SequenceFormTensors, player: int, y: torch.Tensor, probs: torch.Tensor):
    r"""Reach-weighted action values :math:`q(I,a) = \mathrm{cfv}(I,a) / \sum_{h\in I} \pi_{-i}(h)`.

    Computed from two channels of the same bottom-up pass: payoffs :math:`c(z)u_i(z)` and chance reach
    :math:`c(z)`; the second gives, at every sequence :math:`Ia`, the counterfactual reach of :math:`I`
    (the probability of reaching some terminal below :math:`h a` is 1). Returns ``(q, cfv, reach)``,
    each ``[..., I, A]``; ``q`` is 0 where the counterfactual reach is 0.
    """
    P = T.players[player]
    g = sequence_payoffs(T, player, y)
    r = sequence_payoffs(T, player, y, T.terminal_reach)
    both = torch.stack([g, r], 0)
    acc, _ = bottom_up(T, player, both, "mean", probs.unsqueeze(0))
    cfv, reach = (a[..., 1:].unflatten(-1, (P.num_infosets, T.A)) for a in acc)
    q = torch.where(reach > 0, cfv / torch.where(reach > 0, reach, torch.ones_like(reach)), torch.zeros_like(cfv))
    return q, cfv, reach


def nash_conv_t(T: SequenceFormTensors, probs: tuple) -> torch.Tensor:
    """Batched NashConv (``[...]``) of behavioural ``probs`` (no validation)."""
    x = [sequence_form(T, i, probs[i]) for i in range(2)]
    u = expected_payoffs(T, x[0], x[1])
    out = 0.0
    for i in range(2):
        br, _ = bottom_up(T, i, sequence_payoffs(T, i, x[1 - i]), "max")
        out = out + br[..., 0] - u[..., i]
    return out


# ----------------------------------------------------------------------------------------------
# Public evaluators (numpy or torch in, same kind out)
# ----------------------------------------------------------------------------------------------
def _prepare(g: ExtensiveFormGame, policy: TabularPolicy, validate: bool):
    if validate:
        validate_game_policy(g, policy)
    is_torch = is_tensor(policy.probs[0])
    if is_torch:
        dev, dt = policy.probs[0].device, policy.probs[0].dtype
        T = g.tensors(dev, dt)
        probs = tuple(p.to(dev, dt) for p in policy.probs)
    else:
        T = g.tensors("cpu", torch.float64)
        probs = tuple(torch.as_tensor(np.asarray(p, dtype=np.float64)) for p in policy.probs)
    return T, probs, is_torch


def _out(t: torch.Tensor, is_torch: bool):
    if is_torch:
        return t
    a = t.detach().cpu().numpy()
    return float(a) if a.ndim == 0 else a


def expected_return(g: ExtensiveFormGame, policy: TabularPolicy, validate: bool = True):
    """Expected payoff of each player, ``[..., 2]`` (numpy in, numpy out; torch in, torch out)."""
    T, probs, is_torch = _prepare(g, policy, validate)
    x = [sequence_form(T, i, probs[i]) for i in range(2)]
    return _out(expected_payoffs(T, x[0], x[1]), is_torch)


@dataclass(frozen=True)
class BestResponse:
    value: object
    """Best-response value of ``player`` against the others' policy (``[...]``)."""
    policy: object
    """Deterministic best response, ``[..., I, A]`` one-hot (ties to the lowest action index)."""
    player: int


def best_response(g: ExtensiveFormGame, policy: TabularPolicy, player: int, validate: bool = True) -> BestResponse:
    """Exact best response of ``player`` to ``policy`` of the other player (bottom-up max, Eq. above)."""
    if player not in (0, 1):
        raise ValueError(f"player must be 0 or 1, got {player!r}")
    T, probs, is_torch = _prepare(g, policy, validate)
    y = sequence_form(T, 1 - player, probs[1 - player])
    acc, br = bottom_up(T, player, sequence_payoffs(T, player, y), "max")
    return BestResponse(_out(acc[..., 0], is_torch), br if is_torch else br.numpy(), player)


def nash_conv(g: ExtensiveFormGame, policy: TabularPolicy, validate: bool = True):
    """:math:`\\sum_i \\max_{\\pi'_i} u_i(\\pi'_i, \\pi_{-i}) - u_i(\\pi)` (``[...]``)."""
    T, probs, is_torch = _prepare(g, policy, validate)
    return _out(nash_conv_t(T, probs), is_torch)


def exploitability_t(T, probs):
    """Exploitability on compiled tensors: NashConv / 2 (the one definition; ``[B]`` for batched policies)."""
    return nash_conv_t(T, probs) / 2


def exploitability(g: ExtensiveFormGame, policy: TabularPolicy, validate: bool = True):
    """NashConv / 2 (OpenSpiel's convention); e.g. 11/24 for the uniform policy in Kuhn poker."""
    T, probs, is_torch = _prepare(g, policy, validate)
    return _out(exploitability_t(T, probs), is_torch)


def sequence_to_policy(g: ExtensiveFormGame, xs) -> TabularPolicy:
    """Sequence-form strategies (padded, one per player) -> behavioural :class:`TabularPolicy` (numpy)."""
    T = g.tensors()
    return TabularPolicy(g, tuple(behavioural_form(T, i, torch.as_tensor(np.asarray(x, dtype=np.float64))).numpy()
                                  for i, x in enumerate(xs)))


def policy_to_sequence(g: ExtensiveFormGame, policy: TabularPolicy) -> tuple:
    """Behavioural policy -> padded sequence-form vectors (numpy), one per player."""
    T, probs, _ = _prepare(g, policy, True)
    return tuple(sequence_form(T, i, probs[i]).numpy() for i in range(2))


# ----------------------------------------------------------------------------------------------
# Sequence-form LP
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ZeroSumSolution(SolverResult):
    """Result of :func:`solve_zero_sum`.

    Base fields (:class:`theory.results.SolverResult`, keyword-only): ``residual`` the exploitability
    (NashConv / 2) of ``policy`` from the treeplex evaluator (an independent certificate); ``converged`` the
    stopping test ``duality_gap < 1e-7`` and ``residual < 1e-6``; ``iterations`` the HiGHS iterations of
    the two LPs together; ``error_bound`` ``None`` (the exploitability certifies the policy but bounds no
    distance to an equilibrium).
    """

    value: float
    """Game value for player 0."""
    policy: TabularPolicy
    """A Nash equilibrium (behavioural, both players)."""
    duality_gap: float
    """``|value of player 0's LP - value of player 1's LP|``."""
    solver: str
    """The LP backend (``"scipy-highs"``)."""


def treeplex_constraints(g: ExtensiveFormGame, player: int):
    """Compact constraint matrix ``E`` and right-hand side ``e`` with ``E x = e`` over legal sequences.

    Row 0: :math:`x_\\varnothing = 1`; row ``1 + I``: :math:`\\sum_a x_{Ia} - x_{p(I)} = 0`.
    """
    import scipy.sparse as sp

    t = g.treeplex[player]
    legal = g.legal_sequences(player)
    comp = np.full(t.n_seq, -1, dtype=np.int64)
    comp[legal] = np.arange(legal.size)
    rows, cols, vals = [0], [0], [1.0]
    A = g.num_actions
    for I in range(t.num_infosets):
        for a in np.flatnonzero(t.mask[I]):
            rows.append(1 + I)
            cols.append(comp[1 + I * A + a])
            vals.append(1.0)
        rows.append(1 + I)
        cols.append(comp[t.parent_seq[I]])
        vals.append(-1.0)
    E = sp.csr_matrix((vals, (rows, cols)), shape=(1 + t.num_infosets, legal.size))
    e = np.zeros(1 + t.num_infosets)
    e[0] = 1.0
    return E, e, legal


def solve_zero_sum(g: ExtensiveFormGame) -> ZeroSumSolution:
    r"""Nash equilibrium and value of a two-player zero-sum game by the sequence-form LP (SciPy HiGHS).

    Player 0: :math:`\max_{x, v} e_1^\top v` s.t. :math:`F^\top v \le A^\top x`, :math:`E x = e`,
    :math:`x \ge 0` (the inner :math:`\min_y x^\top A y` over :math:`F y = f, y \ge 0` replaced by its dual);
    player 1's LP is symmetric. Both are solved; their values must agree (``duality_gap``). ``converged`` is
    ``duality_gap < 1e-7`` and ``residual`` (the exploitability of the returned policy) ``< 1e-6``; otherwise a
    :class:`theory.results.NotConvergedWarning` is raised.
    """
    import scipy.sparse as sp
    from scipy.optimize import linprog

    if not g.zero_sum:
        raise GameError(f"{g.name} is not zero-sum; solve_zero_sum needs u_0 = -u_1 at every terminal")
    A = g.payoff_matrix(0, compact=True)
    E, e, leg0 = treeplex_constraints(g, 0)
    F, f, leg1 = treeplex_constraints(g, 1)
    n0, n1, m0, m1 = A.shape[0], A.shape[1], E.shape[0], F.shape[0]
    # player 0: vars [x (n0), v (m1)]; min -f.v ; F^T v - A^T x <= 0 ; E x = e
    c = np.concatenate([np.zeros(n0), -f])
    r0 = linprog(c, A_ub=sp.hstack([-A.T, F.T]).tocsr(), b_ub=np.zeros(n1),
                 A_eq=sp.hstack([E, sp.csr_matrix((m0, m1))]).tocsr(), b_eq=e,
                 bounds=[(0, None)] * n0 + [(None, None)] * m1, method="highs")
    # player 1: vars [y (n1), u (m0)]; min e.u ; A y - E^T u <= 0 ; F y = f
    c1 = np.concatenate([np.zeros(n1), e])
    r1 = linprog(c1, A_ub=sp.hstack([A, -E.T]).tocsr(), b_ub=np.zeros(n0),
                 A_eq=sp.hstack([F, sp.csr_matrix((m1, m0))]).tocsr(), b_eq=f,
                 bounds=[(0, None)] * n1 + [(None, None)] * m0, method="highs")
    if r0.status != 0 or r1.status != 0:
        raise RuntimeError(f"HiGHS failed on {g.name}: {r0.message} / {r1.message}")
    xs = []
    for leg, sol, n, t in ((leg0, r0.x[:n0], n0, g.treeplex[0]), (leg1, r1.x[:n1], n1, g.treeplex[1])):
        x = np.zeros(t.n_seq)
        x[leg] = np.clip(sol, 0.0, None)
        xs.append(x)
    pol = sequence_to_policy(g, xs)
    v0, v1 = -r0.fun, r1.fun
    expl = exploitability(g, pol)
    ok = abs(v0 - v1) < 1e-7 and expl < 1e-6
    iterations = int(r0.nit) + int(r1.nit)
    if not ok:
        warn_not_converged(f"solve_zero_sum({g.name}) (duality gap {abs(v0 - v1):.3g})", residual=expl,
                           tol=1e-6, iterations=iterations)
    return ZeroSumSolution(float(v0), pol, float(abs(v0 - v1)), "scipy-highs", residual=float(expl),
                           converged=bool(ok), iterations=iterations)
