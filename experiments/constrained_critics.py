r"""TS-4: separate critics per signal against one joint critic (``docs/experiments.md#constrained_critics``).

TSCAC keeps one critic per signal, motivated by "a dense WatchTime signal swamps sparse interactions in
a joint critic". On sessions of a short-video CMDP logged under the uniform policy (interactions sampled
as Bernoulli events) we fit LSTD(0) critics :math:`\hat V = \Psi\hat\theta`,
:math:`\hat\theta = (\sum_t \psi_t(\psi_t - g\,\psi_{t+1})^\top)^{-1}\sum_t \psi_t r_t`, with tabular or
factored state features :math:`\psi(s) = [e_z, e_f, 1]` (zero in the "left" state), and estimate the
combined value :math:`V_w = \sum_i w_i V_i^{\gamma_i}` (weights :math:`w_0 = 1`,
:math:`w_i = J_0/(k J_i)` under the logging policy, so that every signal counts about equally):

* separate: one LSTD head per signal with its own discount :math:`\gamma_i`, combined as :math:`\sum_i w_i \hat V_i`;
* joint: one LSTD head on :math:`\sum_i w_i r_i` with the main discount :math:`\gamma_0`.

LSTD is linear in the rewards, so with a common discount the two are identical for any features and any
sample (a theorem, checked to round-off); they differ only when the discounts differ, which a joint
critic cannot represent. Errors are relative RMSEs against the exact values over the live states.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from experiments.claims import Claim, Measurement
from mdp import TabularMDP, policy_evaluation
from mdp.batched import BatchedTabularMDP
from mdp.envs.recommender import sample_signals, short_video_cmdp
from theory.rates import Interval, mean_ci

TITLE = "Separate critics per signal against a joint critic"
CAPTION = ("Relative RMSE of the combined value sum_i w_i V_i against the number of logged sessions, for "
           "separate LSTD heads and one joint head, with a common discount (the two coincide) and with "
           "per-signal discounts; tabular and factored features. Mean and 95% CI over datasets.")


@dataclass(frozen=True)
class Config:
    Z: int = 4
    """Interests."""
    F: int = 4
    """Fatigue levels."""
    K: int = 6
    """Categories."""
    sessions: tuple = (30, 300, 3000)
    """Logged sessions per dataset."""
    horizon: int = 60
    """Steps per session (truncation)."""
    datasets: int = 5
    """Datasets per size and job."""
    discounts: tuple = (0.95, 0.9, 0.8, 0.85)
    """Per-signal discounts (main first) of the 'per-signal' case; the 'common' case uses the first for all."""


CONFIGS = {"smoke": Config(Z=3, F=3, K=4, sessions=(20, 200), datasets=2),
           "quick": Config(),
           "full": Config(Z=10, F=10, K=20, sessions=(100, 1000, 10000, 100000), datasets=20)}


def _features(sv, kind):
    S = sv.model.S
    if kind == "tabular":
        psi = np.eye(S)
    else:
        psi = np.zeros((S, sv.Z + sv.F + 1))
        for z in range(sv.Z):
            for f in range(sv.F):
                psi[sv.state(z, f), [z, sv.Z + f, sv.Z + sv.F]] = 1.0
    psi[sv.left_state] = 0.0
    return psi


def _lstd(psi, s, s2, r, g):
    X, Y = psi[s], psi[s2]
    A = X.T @ (X - g * Y) + 1e-8 * np.eye(psi.shape[1])
    return psi @ np.linalg.lstsq(A, X.T @ r, rcond=None)[0]


def run(config: Config, seed: int, device: str) -> pd.DataFrame:
    sv = short_video_cmdp(config.Z, config.F, config.K, seed=seed)
    m = sv.model
    sig = sv.signals                                              # [S, A, 1 + k]
    k = sig.shape[-1] - 1
    pi = np.full((m.S, m.A), 1.0 / m.A)
    live = ~m.absorbing_states()
    gen = torch.Generator().manual_seed(seed)
    rows = []
    for case in ("common", "per-signal"):
        gam = np.full(k + 1, config.discounts[0]) if case == "common" else np.asarray(config.discounts, float)
        V = np.stack([policy_evaluation(TabularMDP(m.P, sig[..., i], gam[i], m.mu), pi) for i in range(k + 1)])
        J = m.mu @ V.T
        w = np.concatenate([[1.0], J[0] / (k * J[1:])])
        truth = w @ V
        for n in config.sessions:
            for d in range(config.datasets):
                env = BatchedTabularMDP(m, n, generator=gen, dtype=torch.float64)
                roll = env.rollout(torch.as_tensor(pi), config.horizon)
                s, a, s2 = (x.numpy().ravel() for x in (roll.states[:-1], roll.actions, roll.states[1:]))
                keep = live[s]
                s, a, s2 = s[keep], a[keep], s2[keep]
                u = torch.rand((len(s), k + 1), generator=gen, dtype=torch.float64).numpy()
                r = sample_signals(sig[s, a], u)                  # [n, 1 + k]
                for feat in ("tabular", "factored"):
                    psi = _features(sv, feat)
                    sep = sum(w[i] * _lstd(psi, s, s2, r[:, i], gam[i]) for i in range(k + 1))
                    joint = _lstd(psi, s, s2, r @ w, gam[0])
                    scale = float(np.sqrt(np.mean(truth[live] ** 2)))
                    rmse = lambda est: float(np.sqrt(np.mean((est[live] - truth[live]) ** 2)) / scale)  # noqa: E731
                    rows.append(dict(case=case, features=feat, sessions=n, dataset=d, transitions=len(s),
                                     separate=rmse(sep), joint=rmse(joint),
                                     max_rel_diff=float(np.abs(sep - joint)[live].max() / scale)))
    return pd.DataFrame(rows)


def claims(frame: pd.DataFrame, config: Config) -> list[Claim]:
    common = frame[frame.case == "common"]
    per = frame[(frame.case == "per-signal") & (frame.sessions == max(config.sessions))]
    out = [Claim.at_most("common discount: max |separate - joint| / scale", Interval.point(common.max_rel_diff.max()),
                         0.0, slack=1e-8, theorem=True,
                         description="LSTD is linear in the rewards: separate heads and a joint head coincide")]
    for feat in ("tabular", "factored"):
        sub = per[per.features == feat]
        out.append(Claim.at_least(f"per-signal discounts ({feat}): joint error - separate error",
                                  mean_ci(sub.joint - sub.separate), 0.0,
                                  description="a joint critic cannot represent per-signal discounts (largest sample)"))
    return out


def measurements(frame: pd.DataFrame, config: Config) -> list[Measurement]:
    per = frame[(frame.case == "per-signal") & (frame.sessions == max(config.sessions))]
    return [Measurement.of(f"per-signal, {f}: relative RMSE of the {col} critic", mean_ci(per[per.features == f][col]))
            for f in ("tabular", "factored") for col in ("separate", "joint")]


def plot(frame: pd.DataFrame, config: Config):
    import matplotlib.pyplot as plt

    from experiments.plotting import band

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5), sharey=True)
    for ax, case in zip(axes, ("common", "per-signal")):
        for j, feat in enumerate(("tabular", "factored")):
            for col, ls in (("separate", "-"), ("joint", "--")):
                sub = frame[(frame.case == case) & (frame.features == feat)]
                g = sub.groupby("sessions")[col]
                cis = [mean_ci(v) for _, v in g]
                x = np.array(sorted(sub.sessions.unique()), float)
                band(ax, x, [c.estimate for c in cis], [c.low for c in cis], [c.high for c in cis],
                     label=f"{col}, {feat}", color=f"C{j}", ls=ls)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("logged sessions")
        ax.set_title("common discount (joint = separate)" if case == "common" else "per-signal discounts")
    axes[0].set_ylabel("relative RMSE of sum_i w_i V_i")
    axes[1].legend(fontsize=7)
    return fig
