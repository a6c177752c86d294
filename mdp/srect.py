"""Backward-compatible home of the s-rectangular solvers: they live in :mod:`mdp.robust.srect` and
:mod:`mdp.robust.iwocs` (``iwocs_srect``); this module only re-exports them."""
from mdp.robust.iwocs import IwocsSRectResult, iwocs_srect
from mdp.robust.srect import (SRectL1Ball, SRectResult, s_rectangular_policy_evaluation,
                              s_rectangular_value_iteration, srect_worst_kernel)

__all__ = ["SRectL1Ball", "SRectResult", "s_rectangular_value_iteration", "s_rectangular_policy_evaluation",
           "srect_worst_kernel", "IwocsSRectResult", "iwocs_srect"]
