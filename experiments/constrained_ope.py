r"""TS-5: the released code's offline evaluator (per-step capped self-normalised IS) against trajectory-level
weighted IS and the exact value (``docs/experiments.md#constrained_ope``).

Sessions of a short-video CMDP are logged under a behaviour policy :math:`\beta` (half uniform, half the
soft-optimal watch-time policy at temperature :math:`\max r_0`). Targets shift away from it,
:math:`\pi_\alpha \propto \beta\, e^{\alpha A_0^\beta/\max|A_0^\beta|}` for the shifts ``shifts``. Each
estimator reports the relative improvement of :math:`\pi_\alpha` over :math:`\beta` in watch time, as the code
does against its behaviour-cloning reference:

* NCIS (the code): per logged step :math:`\rho_t = \min(10, \pi(a_t|s_t)/\beta(a_t|s_t))`, estimate
  :math:`\sum_t \rho_t r_t / \sum_t \rho_t` over all steps, relative to the plain mean of :math:`r_t`;
* SNIS: the same without the cap;
* WIS: trajectory weights :math:`W_n = \prod_t \pi(a_t|s_t)/\beta(a_t|s_t)` and discounted returns
  :math:`G_n`, estimate :math:`\sum_n W_n G_n/\sum_n W_n`, relative to the mean of :math:`G_n`;
* exact: :math:`J(\pi_\alpha)/J(\beta) - 1` by policy evaluation.

Our analysis: with many sessions SNIS tends to :math:`\sum_s d_\beta(s) r_\pi(s)/\sum_s d_\beta(s)` where
:math:`d_\beta` is the behaviour's expected number of visits (undiscounted, up to the horizon) — the target's
one-step reward on the *behaviour's* states — so it misses how the target changes the session (its states,
its length, the discount). This predicted limit is computed exactly and gives the sign of NCIS's bias.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from experiments.claims import Claim, Measurement
from mdp import policy_evaluation
from mdp.batched import BatchedTabularMDP
from mdp.constrained import soft_optimal_policy
from mdp.envs.recommender import short_video_cmdp
from mdp.operators import policy_kernel, q_values
from theory.rates import mean_ci

TITLE = "The released code's per-step NCIS evaluator is biased for the session value"
CAPTION = ("Estimated minus exact relative improvement in discounted watch time of targets shifted away from "
           "the logging policy: per-step capped self-normalised IS (the code's evaluator), the same uncapped, "
           "and trajectory-level weighted IS; the dashed line is the predicted bias of per-step SNIS. Mean and "
           "95% CI over datasets.")


@dataclass(frozen=True)
class Config:
    Z: int = 4
    """Interests."""
    F: int = 4
    """Fatigue levels."""
    K: int = 6
    """Categories."""
    sessions: int = 2000
    """Sessions per dataset."""
    datasets: int = 10
    """Datasets per job."""
    horizon: int = 150
    """Truncation of a session (0.95^150 < 5e-4)."""
    shifts: tuple = (0.0, 1.0, 2.0, 4.0, 8.0)
    """Policy shifts alpha."""
    cap: float = 10.0
    """The code's cap of the per-step ratio."""


CONFIGS = {"smoke": Config(Z=3, F=3, K=4, sessions=200, datasets=2, horizon=60, shifts=(0.0, 4.0)),
           "quick": Config(),
           "full": Config(Z=10, F=10, K=20, sessions=20000, datasets=50)}
SEEDS = {"smoke": 1, "quick": 2, "full": 4}


def run(config: Config, seed: int, device: str) -> pd.DataFrame:
    sv = short_video_cmdp(config.Z, config.F, config.K, seed=seed)
    m = sv.model
    R = m.R
    beta = 0.5 / m.A + 0.5 * soft_optimal_policy(m, R, float(R.max()))
    Vb = policy_evaluation(m, beta)
    Ab = q_values(m.P_flat, R, m.gamma, Vb) - Vb[:, None]
    live = ~m.absorbing_states()
    targets = []
    for a in config.shifts:
        t = beta * np.exp(a * Ab / np.abs(Ab).max())
        targets.append(t / t.sum(-1, keepdims=True))
    targets = np.stack(targets)                                         # [n_targets, S, A]
    J_b = float(m.mu @ Vb)
    exact = np.array([float(m.mu @ policy_evaluation(m, t)) / J_b - 1 for t in targets])
    # predicted limit of per-step SNIS: behaviour visit counts (undiscounted, horizon-truncated)
    Pb = policy_kernel(m.dense_P(), beta)
    d, x = np.zeros(m.S), m.mu.copy()
    for _ in range(config.horizon):
        d += x * live
        x = x @ Pb
    r_pi = (targets * R).sum(-1)                                         # [n_targets, S]
    pred = (r_pi @ d) / ((beta * R).sum(-1) @ d) - 1
    gen = torch.Generator(device=device).manual_seed(seed)
    rows = []
    for ds in range(config.datasets):
        env = BatchedTabularMDP(m, config.sessions, device=device, generator=gen, dtype=torch.float64)
        roll = env.rollout(torch.as_tensor(beta), config.horizon)
        s, a = roll.states[:-1].cpu().numpy(), roll.actions.cpu().numpy()      # [T, n]
        alive = live[s]
        r = R[s, a] * alive
        disc = m.gamma ** np.arange(config.horizon)[:, None]
        G = (disc * r).sum(0)
        for j, (shift, t) in enumerate(zip(config.shifts, targets)):
            rho = np.where(alive, t[s, a] / beta[s, a], 1.0)
            capped = np.clip(rho, 0.0, config.cap) * alive
            ncis = float((capped * r).sum() / capped.sum()) / float(r.sum() / alive.sum()) - 1
            snis = float((rho * alive * r).sum() / (rho * alive).sum()) / float(r.sum() / alive.sum()) - 1
            W = np.exp(np.log(rho).sum(0))
            wis = float((W * G).sum() / W.sum()) / float(G.mean()) - 1
            rows.append(dict(shift=shift, dataset=ds, exact=exact[j], predicted_snis=pred[j], ncis=ncis, snis=snis,
                             wis=wis, ess_wis=float(W.sum() ** 2 / (W ** 2).sum())))
    return pd.DataFrame(rows)


def claims(frame: pd.DataFrame, config: Config) -> list[Claim]:
    top = frame[frame["shift"] == max(config.shifts)]
    out = []
    for seed_, sub in top.groupby("seed"):
        bias = float(sub.predicted_snis.iloc[0] - sub.exact.iloc[0])
        err = mean_ci(sub.ncis - sub.exact)
        make = Claim.at_most if bias < 0 else Claim.at_least
        out.append(make(f"instance {seed_}: NCIS error at the largest shift (predicted sign {np.sign(bias):+.0f})",
                        err, 0.0, description="per-step NCIS is biased for the discounted session value; the sign "
                        f"is that of the predicted SNIS bias {bias:+.4f}"))
        out.append(Claim.within(f"instance {seed_}: SNIS - predicted limit at the largest shift",
                                mean_ci(sub.snis - sub.predicted_snis), -0.02, 0.02,
                                description="uncapped per-step SNIS tends to the behaviour-weighted one-step reward "
                                "(within 2 percentage points)"))
    return out


def measurements(frame: pd.DataFrame, config: Config) -> list[Measurement]:
    top = frame[frame["shift"] == max(config.shifts)]
    return [Measurement.of(f"largest shift: {c} error (estimate - exact relative improvement)",
                           mean_ci(top[c] - top.exact)) for c in ("ncis", "snis", "wis")] + [
        Measurement.of("largest shift: WIS effective sample size (sessions)", mean_ci(top.ess_wis))]


def plot(frame: pd.DataFrame, config: Config):
    import matplotlib.pyplot as plt

    seeds = sorted(frame.seed.unique())
    fig, axes = plt.subplots(1, len(seeds), figsize=(4.5 * len(seeds), 3.5), squeeze=False)
    for ax, sd in zip(axes[0], seeds):
        sub = frame[frame.seed == sd]
        x = np.array(sorted(sub["shift"].unique()), float)
        for j, (col, label) in enumerate((("ncis", "per-step NCIS (code)"), ("snis", "per-step SNIS"),
                                          ("wis", "trajectory WIS"))):
            cis = [mean_ci(g[col] - g.exact) for _, g in sub.groupby("shift")]
            est = np.array([c.estimate for c in cis])
            err = np.array([[c.estimate - c.low for c in cis], [c.high - c.estimate for c in cis]])
            ax.errorbar(x + 0.08 * (j - 1), est, yerr=np.where(np.isfinite(err), err, 0), fmt="o-", capsize=3,
                        label=label, color=f"C{j}")
        pred = sub.groupby("shift")[["predicted_snis", "exact"]].first()
        ax.plot(x, pred.predicted_snis - pred.exact, "k--", label="predicted SNIS bias")
        ax.axhline(0, color="grey", lw=0.8)
        ax.set_xlabel("policy shift α")
        ax.set_title(f"instance {sd}")
    axes[0][0].set_ylabel("estimated − exact improvement")
    axes[0][-1].legend(fontsize=7)
    return fig
