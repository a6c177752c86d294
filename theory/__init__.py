"""theorysim.theory: finite-sum operators, fixed-point solvers, bounds and empirical rates (lazy exports)."""
from theory.lazy import lazy_exports

_EXPORTS = {
    "HalpernResult": "theory.monotone",
    "halpern": "theory.monotone",
    "halpern_fixed_point": "theory.monotone",
    "vr_halpern": "theory.monotone",
    "vr_halpern_inexact": "theory.monotone",
    "eag": "theory.monotone",
    "extragradient": "theory.monotone",
    "vr_extragradient": "theory.monotone",
}
_SUBMODULES = {}
__all__, __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, _SUBMODULES)
