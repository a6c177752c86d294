"""theorysim.theory: finite-sum operators, fixed-point solvers, bounds and empirical rates."""
from theory.halpern import (SolverResult, eag, extragradient, halpern, halpern_fixed_point, vr_extragradient,
                            vr_halpern, vr_halpern_inexact)

__all__ = ["SolverResult", "halpern", "halpern_fixed_point", "vr_halpern", "vr_halpern_inexact", "eag",
           "extragradient", "vr_extragradient"]
