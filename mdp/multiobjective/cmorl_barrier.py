r"""The barrier (interior-point) solver of C-MORL (:mod:`mdp.multiobjective.cmorl_solver`): the Pareto archive, the
exact-gradient NPG stage one, the barrier-NPG extension step (IPO, Liu, Ding & Liu 2020) and the released
code's variant of it (``quirks=True``: :func:`code_quirk_direction`, :func:`code_quirk_extension`).

Softmax policies :math:`\pi_\theta(a\mid s) \propto e^{\theta_{sa}}` on a tabular model, evaluated exactly and
batched over all (preference) or all (selected policy, objective) pairs in one torch program. Stage one is
natural policy gradient :math:`\theta \leftarrow \theta + \tfrac{\eta}{1-\gamma} A_w^{\pi_\theta}` (Agarwal et
al. 2021, eq. 12); stage two is barrier NPG on :math:`J_l + \tfrac1t\sum_{j\ne l}\log(J_j - d_j)`:

.. math:: \theta \leftarrow \theta + \tfrac{\eta}{1-\gamma}\Big(A_l + \sum_{j \ne l}
   \frac{A_j}{t\,(J_j - d_j)}\Big),

halving the step (at most 20 times) when a constraint would be violated.
"""
from __future__ import annotations


import numpy as np

from mdp.batched_planning import batched_policy_evaluation
from mdp.model import TabularMDP
from mdp.multiobjective.fronts import evaluate_policies
from mdp.multiobjective.metrics import crowding_distance, hypervolume, pareto_mask
from mdp.operators import greedy_policy, q_values
from theory.backend import softmax

__all__ = ["ParetoArchive", "barrier_direction", "code_quirk_direction", "code_quirk_extension"]


class ParetoArchive:
    """Growing list of (value, policy) pairs; ``prune`` applies C-MORL's pruning.

    The first ``clean`` entries are known to be mutually non-dominated and above the reference point, so a
    prune compares only the new entries with the old ones and with each other (:math:`O(|A||B| + |B|^2)`
    instead of :math:`O((|A|+|B|)^2)`); the kept set and its order are those of :func:`pareto_mask` on the
    whole list (first copy of duplicates kept; checked in the tests), then, above ``cap`` points, the ``cap``
    of largest crowding distance in decreasing order (C-MORL's ``policy_buffer``).
    """

    def __init__(self, ref, cap: int = 10 ** 9):
        self.ref = ref
        self.cap = cap
        self.G: list[np.ndarray] = []
        self.pi: list[np.ndarray] = []
        self.clean = 0

    def add(self, G, pi):
        self.G.append(np.asarray(G, float))
        self.pi.append(np.asarray(pi, float))

    def prune(self, cap: int):
        if len(self.G) == self.clean:
            return
        B = np.array(self.G[self.clean:])
        A = np.array(self.G[:self.clean]) if self.clean else np.zeros((0, B.shape[1]))
        ok_b = np.all(B >= self.ref, axis=1)
        if A.shape[0]:
            ge_ab = np.all(A[:, None, :] >= B[None, :, :], axis=-1)              # A_i >= B_j: drop B_j
            ok_b &= ~np.any(ge_ab, axis=0)
        idx_b = np.flatnonzero(ok_b)
        idx_b = idx_b[pareto_mask(B[idx_b])] if idx_b.size else idx_b
        keep_a = np.ones(A.shape[0], bool)
        if A.shape[0] and idx_b.size:
            Bk = B[idx_b]
            dom = np.all(Bk[:, None, :] >= A[None, :, :], axis=-1) & np.any(Bk[:, None, :] > A[None, :, :], axis=-1)
            keep_a = ~np.any(dom, axis=0)
        keep = np.r_[np.flatnonzero(keep_a), self.clean + idx_b].astype(int)
        if keep.size > cap:
            cd = crowding_distance(np.array([self.G[i] for i in keep]))
            keep = keep[np.argsort(-cd, kind="stable")[:cap]]
        self.G = [self.G[i] for i in keep]
        self.pi = [self.pi[i] for i in keep]
        self.clean = len(self.G)

    def hypervolume(self) -> float:
        return hypervolume(np.array(self.G), self.ref) if self.G else 0.0


def _evaluate(m, P_flat, R, mu, pi, gamma):
    """Batched exact ``(J [B, k], Q [B, k, S, A])`` of policies ``pi`` ``[B, S, A]`` (torch)."""
    import torch

    S, A = m.S, m.A
    V = batched_policy_evaluation(P_flat.reshape(S, A, S), R, gamma, pi)             # [B, S, k]
    Vk = V.permute(0, 2, 1)                                                            # [B, k, S]
    Q = q_values(P_flat, R.permute(2, 0, 1), gamma, Vk)                               # [B, k, S, A]
    return torch.einsum("s,bks->bk", mu, Vk), Q


def _npg_stage(m, theta, weights, iters, eta, evaluate, archive, device):
    """Stage one with ``solver="barrier"``: batched NPG on ``R @ w`` for each row of ``weights``."""
    import torch

    P_flat = torch.as_tensor(m.dense_P().reshape(-1, m.S).copy(),
                             dtype=torch.float64, device=device)
    R = torch.as_tensor(m.R.copy(), dtype=torch.float64, device=device)
    mu = torch.as_tensor(m.mu.copy(), dtype=torch.float64, device=device)
    W = torch.as_tensor(weights, dtype=torch.float64, device=device)
    for _ in range(iters):
        pi = softmax(theta)
        J, Q = _evaluate(m, P_flat, R, mu, pi, m.gamma)
        Qw = torch.einsum("bk,bksa->bsa", W, Q)
        adv = Qw - (pi * Qw).sum(-1, keepdim=True)
        theta = theta + eta / (1.0 - m.gamma) * adv
        _archive_batch(m, softmax(theta), evaluate, archive, device)
    return theta


def _archive_batch(m, pi, evaluate, archive, device):
    pol = greedy_policy(pi) if evaluate == "greedy" else pi
    G = evaluate_policies(m, pol, device=device).cpu().numpy()
    for g, p in zip(G, pol.cpu().numpy()):
        archive.add(g, p)
    archive.prune(archive.cap)          # C-MORL's EP.update: append, then keep the pruned front


def _extension_start(m, pis, device):
    r"""The model as torch tensors (``P_flat [S A, S]``, ``R [S, A, k]``, ``mu [S]``) and the start logits
    :math:`\theta_0 = \log(0.999\,\pi_r + 0.001/A)` of stage-two runs from the policies ``pis [B, S, A]``."""
    import torch

    P_flat = torch.as_tensor(m.dense_P().reshape(-1, m.S).copy(), dtype=torch.float64, device=device)
    R = torch.as_tensor(m.R.copy(), dtype=torch.float64, device=device)
    mu = torch.as_tensor(m.mu.copy(), dtype=torch.float64, device=device)
    pi0 = torch.as_tensor(pis, dtype=torch.float64, device=device)
    return P_flat, R, mu, torch.log(0.999 * pi0 + 0.001 / m.A)


def _barrier_stage(m, pis, objs, D, iters, eta, t, evaluate, archive, device):
    """Stage two with ``solver="barrier"``: batched barrier NPG from ``pis`` ``[B, S, A]``."""
    import torch

    P_flat, R, mu, theta = _extension_start(m, pis, device)
    k = m.R.shape[2]
    d = torch.as_tensor(D, dtype=torch.float64, device=device)                 # [B, k], -inf at l
    onehot = torch.nn.functional.one_hot(torch.as_tensor(objs, device=device), k).to(torch.float64)
    J, Q = _evaluate(m, P_flat, R, mu, softmax(theta), m.gamma)
    live = torch.all((J > d) | (onehot > 0), dim=1)                            # strictly feasible starts
    for _ in range(iters):
        pi = softmax(theta)
        adv = barrier_direction(pi, Q, J, d, onehot, t)
        step = torch.full((pi.shape[0], 1, 1), eta / (1.0 - m.gamma), dtype=torch.float64, device=device)
        accepted = torch.zeros(pi.shape[0], dtype=torch.bool, device=device)
        for _ in range(20):
            cand = theta + step * adv
            Jc, Qc2 = _evaluate(m, P_flat, R, mu, softmax(cand), m.gamma)
            ok = torch.all((Jc > d) | (onehot > 0), dim=1) & ~accepted & live
            theta = torch.where(ok[:, None, None], cand, theta)
            J = torch.where(ok[:, None], Jc, J)
            Q = torch.where(ok[:, None, None, None], Qc2, Q)
            accepted |= ok
            if bool(torch.all(accepted | ~live)):
                break
            step = torch.where(accepted[:, None, None], step, step / 2)
        if bool(live.any()):
            _archive_batch(m, softmax(theta)[live], evaluate, archive, device)
    return int(live.sum())


def barrier_direction(pi, Q, J, d, onehot, t: float):
    r"""The barrier-NPG direction of C-MORL's constrained step (exact, tabular softmax).

    For :math:`\max J_l + \tfrac1t \sum_{j\ne l}\log(J_j - d_j)` the NPG update of a softmax policy
    is :math:`\theta \leftarrow \theta + \tfrac{\eta}{1-\gamma}\tilde A` with the combined advantage

    .. math:: \tilde A(s,a) = \sum_k c_k A_k(s,a),\quad c_l = 1,\quad c_j = \frac{1}{t\,(J_j - d_j)},
       \quad A_k = Q_k - \sum_b \pi(b|s) Q_k(s,b).

    Args:
        pi: ``[B, S, A]`` current policies; Q: ``[B, k, S, A]`` their exact Q-values per objective;
        J: ``[B, k]`` their values; d: ``[B, k]`` thresholds (ignored where ``onehot`` is 1);
        onehot: ``[B, k]`` the maximised objective; t: barrier parameter.

    Returns:
        ``[B, S, A]`` the combined advantage :math:`\tilde A` (torch).
    """
    import torch

    slack = torch.where(onehot > 0, torch.ones_like(J), J - d)
    c = torch.where(onehot > 0, torch.ones_like(J), 1.0 / (t * slack))
    Qc = torch.einsum("bk,bksa->bsa", c, Q)
    return Qc - (pi * Qc).sum(-1, keepdim=True)


def code_quirk_direction(pi, Q, J, onehot, beta: float, t: float):
    r"""The released C-MORL code's extension step read as an exact-gradient tabular NPG direction (ablation).

    Reconstruction: the code (``ipo_update``) adds :math:`-\tfrac1t\log(-\hat c_j)` with
    :math:`\hat c_j = \min(\beta \bar R_j - \mathrm{clip}(\rho)\bar R_j, -10^{-3})`, :math:`\bar R_j` the
    current batch's mean return. Its quirks read on exact returns of the current iterate :math:`\pi_k`:

    * (a) the threshold is :math:`d_j = \beta J_j(\pi_k)`, recomputed at every update, so the slack is
      :math:`(1-\beta) J_j(\pi_k)` and the barrier weight :math:`c_j = 1/(t(1-\beta)J_j)` never grows with
      the distance to the selected policy: no constraint binds (and no step is ever halved). Where
      :math:`(1-\beta) J_j \le 10^{-3}` (e.g. negative returns) the code's clamp makes the term constant:
      :math:`c_j = 0`;
    * (b) the barrier sum runs over all objectives, the maximised :math:`l` included:
      :math:`c_l = 1 + 1/(t(1-\beta)J_l)`.

    The direction is :math:`\tilde A = \sum_k c_k A_k`, :math:`A_k = Q_k - \sum_b \pi(b|s) Q_k(s,b)`. (Read
    literally, the code's barrier acts on the ratio :math:`\rho = \pi_\theta/\pi_k` only; its exact gradient at
    :math:`\rho = 1` is :math:`\tfrac{1}{t(1-\beta)}\mathbb E_{\pi_k}[\nabla\log\pi]`, which is zero, so that
    reading would be plain NPG on :math:`J_l`. We keep the true-return barrier so the term has its effect.)

    Args:
        pi: ``[B, S, A]`` current policies; Q: ``[B, k, S, A]`` their Q-values per objective;
        J: ``[B, k]`` their values; onehot: ``[B, k]`` the maximised objective; beta, t: C-MORL's ``--beta``
        and ``--t``.

    Returns:
        ``[B, S, A]`` the combined advantage (torch).
    """
    import torch

    slack = (1.0 - beta) * J
    c = torch.where(slack > 1e-3, 1.0 / (t * slack.clamp_min(1e-3)), torch.zeros_like(J)) + onehot
    Qc = torch.einsum("bk,bksa->bsa", c, Q)
    return Qc - (pi * Qc).sum(-1, keepdim=True)


def code_quirk_extension(m: TabularMDP, policies, iterations: int, eta: float, t: float, beta: float,
                         device: str = "cpu"):
    r"""Stage two as the released code runs it (quirk (c)): from each selected policy, ``iterations`` NPG
    updates :math:`\theta \leftarrow \theta + \tfrac{\eta}{1-\gamma}\tilde A` along
    :func:`code_quirk_direction` for objective 0, then ``iterations`` for objective 1 *continuing from the
    end of objective 0's run*, and so on. Batched over the selected policies.

    Reconstruction: see :func:`code_quirk_direction`; the start :math:`\theta_0 = \log(0.999\pi_r + 0.001/A)`
    is the one of the paper-faithful barrier solver.

    Args:
        m: multi-objective model with ``k`` objectives.
        policies: ``[n, S, A]`` the selected policies.
        iterations: updates per objective; eta: NPG step size; t, beta: barrier parameter and coefficient.
        device: torch device.

    Returns:
        ``[k * iterations, n, S, A]`` torch tensor: every iterate, in order (the first ``iterations`` are the
        objective-0 run).
    """
    import torch

    P_flat, R, mu, theta = _extension_start(m, policies, device)
    k = m.R.shape[2]
    out = []
    for l in range(k):
        onehot = torch.zeros((theta.shape[0], k), dtype=torch.float64, device=device)
        onehot[:, l] = 1.0
        for _ in range(iterations):
            pi = softmax(theta)
            J, Q = _evaluate(m, P_flat, R, mu, pi, m.gamma)
            theta = theta + eta / (1.0 - m.gamma) * code_quirk_direction(pi, Q, J, onehot, beta, t)
            out.append(softmax(theta))
    return torch.stack(out)
