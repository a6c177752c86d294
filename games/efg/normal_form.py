r"""Normal-form (matrix) games as one-shot extensive-form games.

Player 0 chooses a row at information set ``"row"``; player 1 chooses a column at ``"col"`` without
seeing the row. So every evaluator, learner and environment for extensive-form games applies unchanged;
a ``TabularPolicy`` of a matrix game holds one ``[1, A]`` row per player.
"""
from __future__ import annotations

import numpy as np

from games.efg.model import Decision, ExtensiveFormGame, PayoffShapeError, Terminal

PERTURBED_RPS = np.array([[0.0, -3.0, 3.0], [3.0, 0.0, -1.0], [-3.0, 1.0, 0.0]])


def normal_form_game(A, B=None, name: str = "matrix_game") -> ExtensiveFormGame:
    """Bimatrix game: player 0 gets ``A[r, c]``, player 1 gets ``B[r, c]`` (``-A`` when ``B`` is None)."""
    A = np.asarray(A, dtype=np.float64)
    if A.ndim != 2 or min(A.shape) < 1:
        raise PayoffShapeError(f"{name}: A must be a non-empty 2-D payoff matrix, got shape {A.shape}")
    B = -A if B is None else np.asarray(B, dtype=np.float64)
    if B.shape != A.shape:
        raise PayoffShapeError(f"{name}: B has shape {B.shape} but A has {A.shape}")
    for M, lab in ((A, "A"), (B, "B")):
        if not np.isfinite(M).all():
            raise PayoffShapeError(f"{name}: {lab}{tuple(np.argwhere(~np.isfinite(M))[0])} is not finite")
    m, n = A.shape
    root = Decision(0, "row", {r: Decision(1, "col", {c: Terminal((A[r, c], B[r, c])) for c in range(n)})
                               for r in range(m)})
    return ExtensiveFormGame(root, name=name)


def perturbed_rps() -> ExtensiveFormGame:
    """Perturbed rock-paper-scissors (``ssokota/mmd`` example), min-max normalised to [0, 1], zero-sum.

    Nash equilibrium (1/7, 3/7, 3/7) for both players; value 0.5 for player 0.
    """
    A = (PERTURBED_RPS - PERTURBED_RPS.min()) / (PERTURBED_RPS.max() - PERTURBED_RPS.min())
    return normal_form_game(A, name="perturbed_rps")
