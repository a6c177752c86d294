"""Claims: checked statements of a paper, judged against theory from an experiment's tidy results.

An experiment's ``claims(frame, config)`` returns :class:`Claim` objects (verdict computed, never passed in) and
its optional ``measurements(frame, config)`` :class:`Measurement` objects; :func:`experiments.runner.aggregate`
writes both to ``<scale>.claims.json``, and :func:`summarize_claims` prints the totals after a pipeline run.
This module imports no model or solver (only :mod:`theory.rates`, for a point interval), so an experiment's
recorded sources stay what the experiment itself uses.
"""
from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["VERDICTS", "SMOKE_CAUSE", "Claim", "Measurement", "TheoremViolation", "UnexplainedVerdict",
           "sample_cause", "verdict_counts", "summarize_claims"]

VERDICTS = ("supported", "contradicted", "inconclusive")


class TheoremViolation(RuntimeError):
    """A claim marked ``theorem=True`` (must hold at any scale) was contradicted by the data."""


class UnexplainedVerdict(ValueError):
    """A contradicted claim without a ``cause`` (a verdict against a paper must say why)."""


#: The cause given to a claim that is not supported at the smoke scale and names none of its own: the
#: smoke scale checks that the pipeline runs (one seed, a few iterations), it does not test a paper.
SMOKE_CAUSE = "smoke scale: a pipeline check with too few seeds and iterations to test the paper"


@dataclass(frozen=True)
class Claim:
    r"""One checked statement of a paper: a measured value with its interval, judged against theory.

    Build claims with :meth:`at_least`, :meth:`at_most`, :meth:`within` or :meth:`equals`; the verdict is
    computed, never passed in. With the claimed region :math:`[\ell, u]` (``limit_low``, ``limit_high``;
    the theory value, widened only by the named ``slack``) and the interval :math:`[a, b]`:

    * **supported**: :math:`\ell \le a` and :math:`b \le u` (the whole interval on the claimed side,
      or inside the band);
    * **contradicted**: :math:`b < \ell` or :math:`a > u` (the whole interval on the wrong side);
    * **inconclusive**: otherwise (the interval straddles a limit, e.g. a single noisy run).

    Attributes:
        name, description: what is claimed, in words.
        measured, ci_low, ci_high, level: the estimate and its interval (``level = 1`` for exact values).
        theory: the theory value as shown (a number or ``[low, high]`` with ``None`` for an open end).
        kind: ``at_least`` | ``at_most`` | ``within`` | ``equals``.
        slack: a justified finite-sample or numerical allowance, printed next to the theory value.
        limit_low, limit_high: the limits actually applied (theory value -/+ slack).
        verdict: ``supported`` | ``contradicted`` | ``inconclusive``.
        theorem: an inequality that must hold at any scale: the pipeline fails when it is contradicted.
        reconstructed: the claim rests on a reconstruction of a detail the paper does not give.
        reference: where the theory value comes from (a section of ``docs/experiments.md``, a paper).
        cause: one line saying why the verdict is not *supported*, found before the verdict was accepted:
            parity with an independent implementation on the same instance and the reason the paper's
            number differs, or the metric/regime difference, or the scale (too few seeds). Written when the
            claim is built (it is read only when the verdict is contradicted or inconclusive);
            :func:`experiments.runner.aggregate` refuses a contradicted claim at the quick or full scale without one.
    """

    name: str
    measured: float
    ci_low: float
    ci_high: float
    theory: Any
    kind: str
    verdict: str
    limit_low: float | None = None
    limit_high: float | None = None
    slack: float = 0.0
    level: float = 0.95
    theorem: bool = False
    description: str = ""
    reconstructed: bool = False
    reference: str = ""
    experiment: str = ""
    scale: str = ""
    cause: str = ""

    @property
    def passed(self) -> bool:
        """``verdict == "supported"``."""
        return self.verdict == "supported"

    @staticmethod
    def judge(interval, low: float | None, high: float | None) -> str:
        """The verdict of an interval against the region ``[low, high]`` (``None`` = open end)."""
        lo = -math.inf if low is None else float(low)
        hi = math.inf if high is None else float(high)
        a, b = float(interval.low), float(interval.high)
        if math.isnan(a) or math.isnan(b):
            return "inconclusive"
        if lo <= a and b <= hi:
            return "supported"
        if b < lo or a > hi:
            return "contradicted"
        return "inconclusive"

    @classmethod
    def _make(cls, name, interval, kind, theory, low, high, slack, **kw) -> "Claim":
        if not hasattr(interval, "low"):
            from theory.rates import Interval

            interval = Interval.point(interval)
        slack = float(slack)
        if not slack >= 0:
            raise ValueError(f"claim {name!r}: slack must be >= 0, got {slack}")
        lo = None if low is None else float(low) - slack
        hi = None if high is None else float(high) + slack
        return cls(name=name, measured=float(interval.estimate), ci_low=float(interval.low),
                   ci_high=float(interval.high), theory=theory, kind=kind,
                   verdict=cls.judge(interval, lo, hi), limit_low=lo, limit_high=hi, slack=slack,
                   level=float(getattr(interval, "level", 0.95)), **kw)

    @classmethod
    def at_least(cls, name: str, interval, bound: float, slack: float = 0.0, **kw) -> "Claim":
        """Claim ``quantity >= bound`` (supported when the whole interval is at or above ``bound - slack``)."""
        return cls._make(name, interval, "at_least", [float(bound), None], bound, None, slack, **kw)

    @classmethod
    def at_most(cls, name: str, interval, bound: float, slack: float = 0.0, **kw) -> "Claim":
        """Claim ``quantity <= bound`` (supported when the whole interval is at or below ``bound + slack``)."""
        return cls._make(name, interval, "at_most", [None, float(bound)], None, bound, slack, **kw)

    @classmethod
    def within(cls, name: str, interval, low: float, high: float, slack: float = 0.0, **kw) -> "Claim":
        """Claim ``low <= quantity <= high`` (a two-sided band, e.g. a rate's theory value +- a band)."""
        if low is None or high is None or not float(low) <= float(high):
            raise ValueError(f"claim {name!r}: within needs low <= high, got [{low}, {high}]")
        return cls._make(name, interval, "within", [float(low), float(high)], low, high, slack, **kw)

    @classmethod
    def equals(cls, name: str, value, reference: float, tol: float, **kw) -> "Claim":
        """A deterministic point claim: ``|value - reference| <= tol`` (``tol`` is the named slack)."""
        return cls._make(name, value, "equals", float(reference), reference, reference, tol, **kw)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        for k in ("measured", "ci_low", "ci_high", "limit_low", "limit_high", "slack"):
            d[k] = _finite_or_none(d[k])
        d["passed"] = self.passed
        if self.verdict == "supported":  # a cause explains a verdict against the paper only
            d["cause"] = ""
        if isinstance(d["theory"], (list, tuple)):  # open ends as null: JSON (and Typst) has no Infinity
            d["theory"] = [None if x is None else (_finite_or_none(x) if isinstance(x, (int, float)) else x)
                           for x in d["theory"]]
        elif isinstance(d["theory"], float):
            d["theory"] = _finite_or_none(d["theory"])
        return d


@dataclass(frozen=True)
class Measurement:
    """A descriptive number that is not a claim (a fraction, a count, a time): reported, never judged."""

    name: str
    value: float
    ci_low: float | None = None
    ci_high: float | None = None
    description: str = ""
    experiment: str = ""
    scale: str = ""

    @classmethod
    def of(cls, name: str, interval, description: str = "") -> "Measurement":
        if not hasattr(interval, "low"):
            return cls(name, float(interval), None, None, description)
        return cls(name, float(interval.estimate), float(interval.low), float(interval.high), description)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        for k in ("value", "ci_low", "ci_high"):
            d[k] = _finite_or_none(d[k]) if d[k] is not None else None
        return d


def _finite_or_none(x):
    try:
        return float(x) if math.isfinite(float(x)) else None
    except (TypeError, ValueError):
        return None


def sample_cause(interval, limit: float, n: int, what: str = "seeds") -> str:
    """The cause of an *inconclusive* verdict that is a sample too small to decide, or ``""``.

    Returns ``"sample: n <what>; the interval [a, b] contains the limit <limit>"`` when the interval straddles
    ``limit`` and ``""`` otherwise, so that a claim whose whole interval lies on the wrong side (contradicted)
    is not explained away as noise: :func:`experiments.runner.aggregate` then asks for a cause of its own.
    """
    lo, hi = float(interval.low), float(interval.high)
    if not lo <= float(limit) <= hi:
        return ""
    return f"sample: {n} {what}; the interval [{lo:.3g}, {hi:.3g}] contains the limit {float(limit):g}"


def verdict_counts(claims) -> dict[str, int]:
    """``{"supported": k1, "contradicted": k2, "inconclusive": k3}`` over claim objects or dicts."""
    out = dict.fromkeys(VERDICTS, 0)
    for c in claims:
        out[c["verdict"] if isinstance(c, dict) else c.verdict] += 1
    return out


def summarize_claims(claims_files) -> str:
    """Verdict totals and every contradicted or inconclusive claim of the given ``claims.json`` files.

    Printed at the end of every ``snakemake`` run (the Snakefile's ``onsuccess``/``onerror``), so that
    contradicted claims are seen without opening the logs. Missing files (jobs not run) are skipped.
    """
    rows = []
    for f in claims_files:
        p = Path(f)
        if p.exists():
            payload = json.loads(p.read_text())
            rows += [dict(c, experiment=payload["experiment"]) for c in payload["claims"]]
    counts = verdict_counts(rows)
    lines = [f"claims: {len(rows)} checked — {counts['supported']} supported, {counts['contradicted']} "
             f"contradicted, {counts['inconclusive']} inconclusive"]
    for verdict in ("contradicted", "inconclusive"):
        for c in rows:
            if c["verdict"] == verdict:
                lo, hi = c.get("ci_low"), c.get("ci_high")
                ci = f"[{_g(lo)}, {_g(hi)}]"
                lines.append(f"  {verdict.upper():12s} {c['experiment']}:{c['name']} = {_g(c['measured'])} {ci} "
                             f"vs theory {c['theory']}{' (theorem)' if c.get('theorem') else ''}")
                lines.append(f"      cause: {c.get('cause') or 'NOT GIVEN'}")
    return "\n".join(lines)


def _g(x) -> str:
    return "unbounded" if x is None else f"{x:.4g}"
