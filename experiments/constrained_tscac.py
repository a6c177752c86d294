r"""TS-2: TSCAC against the exact LP optimum and the Lagrangian (``docs/experiments.md#constrained_tscac``).

Short-video CMDPs (:func:`mdp.envs.recommender.short_video_cmdp`) with thresholds
:math:`C_i = J_i(\pi_{\rm main}) + \beta (J_i^{\max} - J_i(\pi_{\rm main}))`. Per instance: the occupancy LP
(the optimum), the Lagrangian primal–dual method (averaged and last iterate), TSCAC with soft stage-one
priors of quality ``quality`` (:math:`J_i(\pi_i) = q J_i^{\max}`) over its one-dimensional :math:`\lambda`
search, fixed-weight scalarisations :math:`r_0 + w \sum_i (\sigma_0/\sigma_i) r_i` (a grid of :math:`w`), the
main-only and each auxiliary-only optimal policy. The first instance of each job also gets the LP frontier
:math:`J^\star(\rho C)` for thresholds scaled by :math:`\rho`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from experiments.claims import Claim, Measurement, sample_cause
from mdp import solve_occupancy_lp
from mdp.constrained import (constraint_ratios, is_feasible, lagrangian, signal_values,
                             thresholds_between, two_stage_actor_critic)
from mdp.envs.recommender import short_video_cmdp
from mdp.planning import policy_iteration
from theory.rates import Interval, mean_ci

TITLE = "TSCAC against the constrained optimum and the Lagrangian"
CAPTION = ("Left: main value (relative to the LP optimum) against the worst constraint ratio min_i J_i/C_i on "
           "one instance: TSCAC's lambda path, the Lagrangian's averaged and last iterates, scalarisations, "
           "single-signal policies and the LP frontier J*(rho C). Right: per-instance value ratios of the "
           "averaged Lagrangian and of TSCAC's best feasible lambda (mean and 95% CI over instances).")


@dataclass(frozen=True)
class Config:
    Z: int = 4
    """User interests."""
    F: int = 4
    """Fatigue levels."""
    K: int = 6
    """Video categories (actions)."""
    instances: int = 5
    """Instances per job."""
    beta: float = 0.5
    """Threshold position between the main-only value and each signal's maximum."""
    quality: float = 0.95
    """Stage-one prior quality J_i(pi_i) / J_i^max."""
    lagrangian_iterations: int = 3000
    """Budget of best responses."""
    frontier: tuple = (0.8, 0.9, 0.95, 1.0, 1.05, 1.1, 1.2)
    """Threshold scalings rho of the LP frontier."""


CONFIGS = {
    "smoke": Config(Z=3, F=3, K=4, instances=1, lagrangian_iterations=300, frontier=(0.9, 1.0, 1.1)),
    "quick": Config(),
    "full": Config(Z=10, F=10, K=20, instances=10, lagrangian_iterations=10000),
}


def _row(method, instance, m, C, t, pi, J_lp, **kw):
    J0, J = signal_values(m, C, pi)
    return dict(method=method, instance=instance, value=J0, ratio_lp=J0 / J_lp,
                min_ratio=float(np.nanmin(constraint_ratios(J, t))), feasible=is_feasible(J, t), **kw)


def run(config: Config, seed: int, device: str) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(config.instances):
        sv = short_video_cmdp(config.Z, config.F, config.K, seed=rng)
        m, C = sv.model, sv.aux_rewards
        t = thresholds_between(m, C, config.beta)
        lp = solve_occupancy_lp(m, C, t)
        J_lp = lp.value
        rows.append(_row("LP", i, m, C, t, lp.policy, J_lp))
        lag = lagrangian(m, C, t, seed=seed, iterations=config.lagrangian_iterations, step_size=10.0, tol=1e-3,
                         dual_step="sqrt")  # its convergence is a column of its row
        rows.append(_row("Lagrangian (averaged)", i, m, C, t, lag.policy, J_lp, iterations=lag.iterations,
                         converged=lag.converged))
        rows.append(_row("Lagrangian (last iterate)", i, m, C, t, lag.last_policy, J_lp))
        ts = two_stage_actor_critic(m, C, t, stage_one="soft", quality=config.quality)
        for s in ts.search:
            rows.append(dict(method="TSCAC path", instance=i, lam=float(s["lam"]), value=float(s["value"]),
                             ratio_lp=float(s["value"]) / J_lp, min_ratio=float(s["min_ratio"]),
                             feasible=bool(s["feasible"])))
        rows.append(_row("TSCAC (chosen lambda)", i, m, C, t, ts.policy, J_lp, lam=ts.lam,
                         smallest_lam_feasible=bool(ts.search["feasible"][0])))
        sig = [float(c.max() - c.min()) for c in C]
        for w in np.geomspace(0.03, 30, 7):
            r = m.R + w * sum(float(m.R.max() - m.R.min()) / s_ * c for s_, c in zip(sig, C))
            rows.append(_row("scalarisation", i, m, C, t, policy_iteration(m.with_rewards(r)).policy, J_lp, lam=w))
        rows.append(_row("main only", i, m, C, t, policy_iteration(m).policy, J_lp))
        for j, c in enumerate(C):
            rows.append(_row(f"{sv.signal_names[j + 1]} only", i, m, C, t,
                             policy_iteration(m.with_rewards(c)).policy, J_lp))
        if i == 0:
            for rho in config.frontier:
                try:
                    f = solve_occupancy_lp(m, C, rho * t)
                    rows.append(dict(method="LP frontier", instance=i, lam=rho, value=f.value,
                                     ratio_lp=f.value / J_lp, min_ratio=rho, feasible=True))
                except ValueError:
                    pass
    return pd.DataFrame(rows)


def _per_instance(frame, method):
    return frame[frame.method == method].set_index(["seed", "instance"])


def claims(frame: pd.DataFrame, config: Config) -> list[Claim]:
    pts = frame[(frame.method != "LP frontier") & (frame.method != "LP") & frame.feasible.astype(bool)]
    excess = float((pts.ratio_lp - 1).max()) if len(pts) else -1.0
    lag = _per_instance(frame, "Lagrangian (averaged)")
    ts = _per_instance(frame, "TSCAC (chosen lambda)")
    ts_ok = ts[ts.feasible.astype(bool)]
    out = [Claim.at_most("LP dominates every feasible point (max J/J_LP - 1)", Interval.point(excess), 0.0,
                         slack=1e-6, theorem=True,
                         description="no feasible policy (TSCAC path, Lagrangian, scalarisation, single-signal) beats "
                         "the occupancy LP; slack: the LP solver's accuracy"),
           Claim.within("averaged Lagrangian value / LP value", mean_ci(lag.ratio_lp), 0.995, 1.005,
                        description="the averaged primal-dual iterate reaches the LP value (within 0.5%)"),
           Claim.at_least("averaged Lagrangian worst constraint ratio", mean_ci(lag.min_ratio), 0.995,
                          description="the averaged iterate is feasible within 0.5%")]
    if len(ts_ok) >= 1:
        ci = mean_ci(ts_ok.ratio_lp)
        cause = (f"the 98% limit is ours (the paper states no number); TSCAC's policies are the Lemma's family "
                 f"around stage-one priors at {config.quality:g} of each maximum, whose best feasible lambda reaches "
                 f"{ts_ok.ratio_lp.min():.3f} to {ts_ok.ratio_lp.max():.3f} of the exact LP here")
        extra = sample_cause(ci, 0.98, len(ts_ok), "feasible instances")
        out.append(Claim.at_least("TSCAC best feasible lambda: J / J_LP (feasible instances)", ci, 0.98,
                                  reconstructed=True, cause=cause + (f"; {extra}" if extra else ""),
                                  description="near-LP for an intermediate lambda (98% as in TS-6's success test)"))
    return out


def measurements(frame: pd.DataFrame, config: Config) -> list[Measurement]:
    ts = _per_instance(frame, "TSCAC (chosen lambda)")
    last = _per_instance(frame, "Lagrangian (last iterate)")
    n = len(ts)
    return [Measurement.of("instances where some lambda is feasible for TSCAC",
                           Interval.proportion(int(ts.feasible.sum()), n), f"of {n}"),
            Measurement.of("instances where TSCAC's smallest lambda is infeasible",
                           Interval.proportion(int((~ts.smallest_lam_feasible.astype(bool)).sum()), n), f"of {n}"),
            Measurement.of("instances where the Lagrangian's last iterate violates a constraint",
                           Interval.proportion(int((~last.feasible.astype(bool)).sum()), n), f"of {n}")]


def plot(frame: pd.DataFrame, config: Config):
    import matplotlib.pyplot as plt

    from experiments.plotting import interval_errorbar

    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(9.5, 3.8), gridspec_kw={"width_ratios": [1.6, 1]})
    one = frame[(frame.seed == frame.seed.min()) & (frame.instance == 0)]
    styles = {"LP frontier": ("-", "k"), "TSCAC path": ("o-", "C0"), "scalarisation": ("s:", "C2"),
              "Lagrangian (averaged)": ("D", "C1"), "Lagrangian (last iterate)": ("x", "C1"), "LP": ("*", "k"),
              "main only": ("^", "C3"), "TSCAC (chosen lambda)": ("o", "C4")}
    for method, sub in one.groupby("method", sort=False):
        fmt, col = styles.get(method, ("v", "C5"))
        sub = sub.sort_values("lam" if method in ("TSCAC path", "scalarisation") else "min_ratio")
        ax.plot(sub.min_ratio, sub.ratio_lp, fmt, color=col, ms=6, label=method, mfc="none" if "path" in method
                else None)
    ax.axvline(1.0, color="grey", lw=0.8, ls="--")
    ax.set_xlabel("worst constraint ratio min_i J_i / C_i")
    ax.set_ylabel("J_main / J_LP")
    chosen = one[one.method == "TSCAC (chosen lambda)"]
    ax.set_title("One instance: trade-off" + ("" if chosen.feasible.astype(bool).all()
                                               else " (TSCAC infeasible for every λ)"))
    ax.legend(fontsize=6, ncol=2)
    for j, method in enumerate(("Lagrangian (averaged)", "TSCAC (chosen lambda)")):
        sub = _per_instance(frame, method)
        vals = sub.ratio_lp.to_numpy(float)
        feas = sub.feasible.to_numpy(bool)
        x = np.full(len(vals), j) + np.linspace(-0.15, 0.15, len(vals))
        ax2.plot(x[feas], vals[feas], "o", color=f"C{j}", alpha=0.7)
        ax2.plot(x[~feas], vals[~feas], "x", color=f"C{j}", alpha=0.7)
        ci = mean_ci(vals[feas]) if feas.sum() > 1 else None
        if ci is not None and np.isfinite(ci.low):
            interval_errorbar(ax2, [j + 0.3], ci.estimate, ci.low, ci.high, fmt="s", color="k", capsize=3)
    ax2.axhline(1.0, color="k", lw=0.8)
    ax2.set_xticks([0, 1], ["Lagrangian\n(averaged)", "TSCAC\n(best feasible λ)"])
    ax2.set_ylabel("J_main / J_LP (x: infeasible)")
    ax2.set_title("All instances")
    return fig
