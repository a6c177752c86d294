r"""OpenSpiel interoperability: compile OpenSpiel games, convert policies both ways (optional extra).

OpenSpiel stays optional (``pip install theorysim[openspiel]``): ``pyspiel`` is imported only inside these
functions.

**Compiling** (:func:`from_openspiel`). A finite two-player OpenSpiel game with sequential moves, explicit
chance and perfect recall is walked depth first from ``game.new_initial_state()`` and written as the
package's declarative tree:

* a chance node becomes ``Chance({a: (p, child)})`` over ``state.chance_outcomes()`` (labels = OpenSpiel's
  chance-outcome ids, probabilities exact as OpenSpiel gives them);
* a decision node of player :math:`i` becomes ``Decision(i, key, {a: child})`` with
  ``key = state.information_state_string(i)`` and one child per legal action id ``a``;
* a terminal becomes ``Terminal(state.returns())`` (OpenSpiel's returns sum any intermediate rewards).

The result is an ordinary :class:`~games.efg.model.ExtensiveFormGame`: every evaluator, learner and
environment of the package accepts it. Its information-set keys are OpenSpiel's information-state strings
and its action labels OpenSpiel's action ids, so a policy converts by key lookup
(:func:`to_openspiel_policy`, :func:`from_openspiel_policy`). The compiled game keeps the OpenSpiel game
as ``game.openspiel_game``.

What cannot be compiled raises :class:`OpenSpielCompileError` naming the reason: more or fewer than two
players, simultaneous moves (compile ``pyspiel.convert_to_turn_based(game)`` instead, or pass
``turn_based=True``), sampled chance, no information-state strings, imperfect recall (the
:class:`~games.efg.model.PerfectRecallError` of the compiler, naming the information set), or more
histories than the memory budget ``max_histories`` (the message gives the count and the budget).

For the declarative Kuhn and Leduc trees of :mod:`games.efg.poker` (whose keys are not OpenSpiel's strings)
the policy conversion walks both trees side by side, matching chance outcomes and actions by label.
"""
from __future__ import annotations

import sys
import time

import numpy as np

from games.efg.model import Chance, Decision, ExtensiveFormGame, GameError, PerfectRecallError, Terminal
from games.efg.policy import TabularPolicy, validate_game_policy

OPENSPIEL_NAMES = {"kuhn_poker": "kuhn_poker", "leduc_poker": "leduc_poker"}
CATALOGUE = {
    "kuhn_poker": "kuhn_poker",
    "leduc_poker": "leduc_poker",
    "liars_dice": "liars_dice(numdice=1)",
    "liars_dice_4": "liars_dice(numdice=1,dice_sides=4)",
    "goofspiel": "turn_based_simultaneous_game(game=goofspiel(num_cards=3,imp_info=True,points_order=descending))",
    "goofspiel_4": "turn_based_simultaneous_game(game=goofspiel(num_cards=4,imp_info=True,points_order=descending))",
    "tiny_hanabi": "tiny_hanabi",
    "first_sealed_auction": "first_sealed_auction(max_value=3)",
    "trade_comm": "trade_comm(num_items=3)",
    "tiny_bridge_2p": "tiny_bridge_2p",
    "oshi_zumo": "turn_based_simultaneous_game(game=oshi_zumo(coins=4,size=1,horizon=3))",
    "battleship": "battleship(board_width=2,board_height=2,ship_sizes=[1],ship_values=[1],num_shots=2)",
    "universal_poker": "universal_poker",
}
"""The verified catalogue: short name -> OpenSpiel game string (small parameters where the default is too large).

``from_openspiel("openspiel:goofspiel")`` and the pipeline's ``games`` config key resolve a short name through
this table; any other OpenSpiel game string (``"goofspiel(num_cards=3)"``) is passed to ``pyspiel.load_game``.
"""
DEFAULT_MAX_HISTORIES = 2_000_000
"""Default memory budget of :func:`from_openspiel`, in histories (about 1 KB of Python objects each)."""


class OpenSpielCompileError(GameError):
    """An OpenSpiel game that :func:`from_openspiel` cannot compile (the message says why)."""


def _pyspiel():
    try:
        import pyspiel
    except ImportError as e:  # pragma: no cover - exercised only without the extra
        raise ImportError("OpenSpiel is not installed; install the optional extra: "
                          "pip install 'theorysim[openspiel]'") from e
    return pyspiel


def load_openspiel(game, turn_based: bool = False, **params):
    """A ``pyspiel.Game`` from a game object or a name with parameters (``turn_based`` converts it).

    Args:
        game: a ``pyspiel.Game`` or a registered name such as ``"liars_dice"`` (an ``"openspiel:"`` prefix
            is accepted and ignored).
        turn_based: wrap a simultaneous-move game with ``pyspiel.convert_to_turn_based``.
        **params: game parameters (only with a name), e.g. ``num_cards=3``.

    Returns:
        The ``pyspiel.Game``.
    """
    pyspiel = _pyspiel()
    if isinstance(game, str):
        name = game.removeprefix("openspiel:")
        if not params:
            name = CATALOGUE.get(name, name)
        try:
            os_game = pyspiel.load_game(name, dict(params)) if params else pyspiel.load_game(name)
        except Exception as e:  # pyspiel raises RuntimeError/SpielError for unknown names and parameters
            raise OpenSpielCompileError(f"OpenSpiel cannot load game {name!r} with parameters {params}: {e}") from e
    elif hasattr(game, "new_initial_state") and hasattr(game, "get_type"):
        if params:
            raise OpenSpielCompileError(f"parameters {sorted(params)} can only be given with a game name, not with "
                                        f"a loaded game {game}")
        os_game = game
    else:
        raise OpenSpielCompileError(f"game must be a pyspiel.Game or a game name, got {type(game).__name__}: {game!r}")
    if turn_based and os_game.get_type().dynamics == pyspiel.GameType.Dynamics.SIMULTANEOUS:
        os_game = pyspiel.convert_to_turn_based(os_game)
    return os_game


def check_compilable(os_game) -> None:
    """Raise :class:`OpenSpielCompileError` if ``os_game`` is not two-player, sequential, explicit-chance with
    information-state strings (perfect recall and size are checked while compiling)."""
    pyspiel = _pyspiel()
    gt = os_game.get_type()
    name = gt.short_name
    if os_game.num_players() != 2:
        raise OpenSpielCompileError(f"{name} has {os_game.num_players()} players; only two-player games compile "
                                    f"(set its 'players' parameter to 2 where it has one)")
    if gt.dynamics == pyspiel.GameType.Dynamics.SIMULTANEOUS:
        raise OpenSpielCompileError(f"{name} has simultaneous moves; compile its turn-based form instead: "
                                    f"from_openspiel({name!r}, turn_based=True, ...) or "
                                    f"pyspiel.convert_to_turn_based(game)")
    if gt.dynamics != pyspiel.GameType.Dynamics.SEQUENTIAL:
        raise OpenSpielCompileError(f"{name} has dynamics {gt.dynamics}; only sequential games compile")
    if gt.chance_mode == pyspiel.GameType.ChanceMode.SAMPLED_STOCHASTIC:
        raise OpenSpielCompileError(f"{name} has sampled chance (no explicit outcome probabilities); it cannot be "
                                    f"written as an exact tree")
    if not gt.provides_information_state_string:
        raise OpenSpielCompileError(f"{name} provides no information-state strings, so its information sets "
                                    f"(and perfect recall) are undefined")


def _count_histories(state, limit: int) -> int:
    """Histories below ``state`` (inclusive), counting stops at ``limit``."""
    n, stack = 0, [state]
    while stack and n < limit:
        s = stack.pop()
        n += 1
        if s.is_terminal():
            continue
        acts = [a for a, _ in s.chance_outcomes()] if s.is_chance_node() else s.legal_actions()
        stack.extend(s.child(a) for a in acts)
    return n


class _Budget(Exception):
    pass


def from_openspiel(game, *, max_histories: int = DEFAULT_MAX_HISTORIES, turn_based: bool = False,
                   name: str | None = None, **params) -> ExtensiveFormGame:
    """Compile a finite two-player perfect-recall OpenSpiel game into an :class:`ExtensiveFormGame`.

    The tree is written node by node (see the module docstring): chance outcomes and terminal returns are
    OpenSpiel's own numbers, information-set keys are ``information_state_string(player)`` and action
    labels are OpenSpiel's action ids.

    Args:
        game: a ``pyspiel.Game`` or a registered game name (``"liars_dice"``, ``"openspiel:goofspiel"``).
        max_histories: memory budget; a game with more histories raises :class:`OpenSpielCompileError`
            with the count (or a lower bound on it) and this budget.
        turn_based: compile a simultaneous-move game through ``pyspiel.convert_to_turn_based``.
        name: the compiled game's name (default: ``"openspiel:<short name>"`` for a :data:`CATALOGUE` name,
            else OpenSpiel's game string, e.g. ``"liars_dice(dice_sides=4)"``).
        **params: OpenSpiel game parameters (with a name only), e.g. ``num_cards=3, imp_info=True``.

    Returns:
        The compiled game, with ``.openspiel_game`` set to the ``pyspiel.Game``.

    Raises:
        OpenSpielCompileError: more than two players, simultaneous moves, sampled chance, no
            information-state strings, imperfect recall, or more than ``max_histories`` histories.

    Example:
        >>> g = from_openspiel("kuhn_poker")
        >>> g.num_histories, [t.num_infosets for t in g.treeplex]
        (58, [6, 6])
    """
    if isinstance(max_histories, bool) or not isinstance(max_histories, (int, np.integer)) or max_histories < 1:
        raise OpenSpielCompileError(f"max_histories must be a positive integer, got {max_histories!r}")
    max_histories = int(max_histories)
    os_game = load_openspiel(game, turn_based=turn_based, **params)
    check_compilable(os_game)
    short = game.removeprefix("openspiel:") if isinstance(game, str) else None
    if name is not None:
        label = name
    elif short in CATALOGUE and not params:
        label = f"openspiel:{short}"
    else:
        label = str(os_game)
    count = 0

    def build(state):
        nonlocal count
        count += 1
        if count > max_histories:
            raise _Budget
        if state.is_terminal():
            return Terminal(tuple(state.returns()))
        if state.is_chance_node():
            return Chance([(a, p, build(state.child(a))) for a, p in state.chance_outcomes()])
        p = state.current_player()
        if p not in (0, 1):
            raise OpenSpielCompileError(f"{label}: history {state.history()} has current player {p}; expected "
                                        f"0 or 1 (simultaneous node?)")
        key = state.information_state_string(p)
        return Decision(p, key, [(a, build(state.child(a))) for a in state.legal_actions()])

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10 * os_game.max_game_length() + 1000))
    try:
        root = build(os_game.new_initial_state())
    except _Budget:
        cap = 10 * max_histories
        total = _count_histories(os_game.new_initial_state(), cap)
        size = f"{total:,}" if total < cap else f"more than {cap:,}"
        raise OpenSpielCompileError(f"{label} has {size} histories, over the memory budget max_histories="
                                    f"{max_histories:,}; raise max_histories (about 1 KB each) or choose smaller "
                                    f"game parameters") from None
    finally:
        sys.setrecursionlimit(limit)
    try:
        g = ExtensiveFormGame(root, name=label)
    except PerfectRecallError as e:
        raise OpenSpielCompileError(f"{label} does not have perfect recall (as its information-state strings "
                                    f"define it): {e}") from e
    g.openspiel_game = os_game
    return g


def compile_time(game, **kwargs) -> tuple[ExtensiveFormGame, float]:
    """``(from_openspiel(game, **kwargs), seconds)``: used by the catalogue benchmark."""
    t0 = time.perf_counter()
    g = from_openspiel(game, **kwargs)
    return g, time.perf_counter() - t0


# ----------------------------------------------------------------------------------------------
# Policy conversion
# ----------------------------------------------------------------------------------------------
def load_openspiel_game(g: ExtensiveFormGame):
    """The OpenSpiel game behind ``g``: the compiled one, or the registered counterpart of Kuhn / Leduc."""
    if getattr(g, "openspiel_game", None) is not None:
        return g.openspiel_game
    if g.name not in OPENSPIEL_NAMES:
        raise GameError(f"no OpenSpiel counterpart is registered for {g.name!r}; pass os_game explicitly or "
                        f"compile the game with from_openspiel")
    return _pyspiel().load_game(OPENSPIEL_NAMES[g.name])


def _is_compiled_from(g: ExtensiveFormGame, os_game) -> bool:
    return getattr(g, "openspiel_game", None) is not None and str(g.openspiel_game) == str(os_game)


def _paired_infosets(g: ExtensiveFormGame, os_game):
    """``{(player, I): os_state}``: one OpenSpiel state per information set of ``g``, found by walking both
    trees side by side (chance outcomes and actions matched by label)."""
    children = {}
    for h in range(1, g.num_histories):
        children[(int(g.h_parent[h]), g.h_label[h])] = h
    out = {}
    stack = [(os_game.new_initial_state(), 0)]
    while stack:
        s, h = stack.pop()
        if s.is_terminal():
            continue
        actions = [a for a, _ in s.chance_outcomes()] if s.is_chance_node() else s.legal_actions()
        if not s.is_chance_node():
            p = s.current_player()
            if g.h_player[h] != p:
                raise GameError(f"OpenSpiel history {s.history()} is a decision of player {p}; ours is not")
            out.setdefault((p, int(g.h_infoset[h])), s)
        for a in actions:
            if (h, a) not in children:
                raise GameError(f"OpenSpiel move {a} at history {s.history()} has no counterpart in {g.name}")
            stack.append((s.child(a), children[(h, a)]))
    return out


def _infoset_strings(g: ExtensiveFormGame, os_game):
    """``[(player, I, os_key, os_state_or_None)]`` for every information set of ``g``."""
    if _is_compiled_from(g, os_game):
        return [(p, I, k, None) for p, t in enumerate(g.treeplex) for I, k in enumerate(t.keys)]
    pairs = _paired_infosets(g, os_game)
    return [(p, I, s.information_state_string(p), s) for (p, I), s in sorted(pairs.items())]


def to_openspiel_policy(g: ExtensiveFormGame, policy: TabularPolicy, os_game=None):
    """Convert an unbatched :class:`TabularPolicy` of ``g`` to OpenSpiel's ``TabularPolicy`` for ``os_game``.

    Args:
        g: a compiled game (from :func:`from_openspiel`, or Kuhn / Leduc of :mod:`games.efg.poker`).
        policy: ``probs[i]`` of shape ``[I_i, A]``.
        os_game: the OpenSpiel game (default: :func:`load_openspiel_game`).

    Returns:
        ``open_spiel.python.policy.TabularPolicy`` with ``action_probability_array[row, action_id]`` filled.
    """
    from open_spiel.python import policy as os_policy

    validate_game_policy(g, policy)
    if policy.batch_shape:
        raise ValueError(f"to_openspiel_policy needs an unbatched policy, got batch shape {policy.batch_shape}")
    pol = policy.numpy()
    os_game = load_openspiel_game(g) if os_game is None else os_game
    tab = os_policy.TabularPolicy(os_game)
    for p, I, key, _ in _infoset_strings(g, os_game):
        if key not in tab.state_lookup:
            raise GameError(f"information set {key!r} of player {p} is not an information state of {os_game}")
        row = tab.action_probability_array[tab.state_lookup[key]]
        row[:] = 0.0
        for a, lab in enumerate(g.treeplex[p].actions[I]):
            row[lab] = pol.probs[p][I, a]
    return tab


def from_openspiel_policy(g: ExtensiveFormGame, os_pol, os_game=None) -> TabularPolicy:
    """Convert an OpenSpiel policy to a :class:`TabularPolicy` of ``g`` (the inverse of
    :func:`to_openspiel_policy`).

    Args:
        g: a compiled game (from :func:`from_openspiel`, or Kuhn / Leduc of :mod:`games.efg.poker`).
        os_pol: an ``open_spiel.python.policy.TabularPolicy``, a ``pyspiel.TabularPolicy``, a dict
            ``{info_state_string: [(action_id, prob), ...]}`` (OpenSpiel's ``to_dict`` form), or any
            ``open_spiel.python.policy.Policy`` (queried with ``action_probabilities(state, player)``).
        os_game: the OpenSpiel game (default: :func:`load_openspiel_game`).

    Returns:
        A float64 numpy :class:`TabularPolicy` (validated: a distribution over the legal actions).
    """
    os_game = load_openspiel_game(g) if os_game is None else os_game
    probs = [np.zeros(t.mask.shape) for t in g.treeplex]
    if hasattr(os_pol, "state_lookup") and hasattr(os_pol, "action_probability_array"):
        def lookup(key, state, player):
            if key not in os_pol.state_lookup:
                raise GameError(f"the OpenSpiel policy has no entry for information state {key!r}")
            row = os_pol.action_probability_array[os_pol.state_lookup[key]]
            return {a: float(row[a]) for a in range(row.size)}
    elif isinstance(os_pol, dict) or hasattr(os_pol, "to_dict"):
        table = os_pol if isinstance(os_pol, dict) else os_pol.to_dict()

        def lookup(key, state, player):
            if key not in table:
                raise GameError(f"the OpenSpiel policy has no entry for information state {key!r}")
            return dict(table[key])
    elif hasattr(os_pol, "action_probabilities"):
        def lookup(key, state, player):
            if state is None:
                raise GameError("a callable OpenSpiel policy needs states; pass a TabularPolicy or a dict")
            return dict(os_pol.action_probabilities(state, player))
    else:
        raise GameError(f"os_pol must be an OpenSpiel TabularPolicy, a dict or a Policy; got {type(os_pol).__name__}")
    entries = _infoset_strings(g, os_game)
    if any(s is None for *_, s in entries) and not hasattr(os_pol, "state_lookup") \
            and not isinstance(os_pol, dict) and not hasattr(os_pol, "to_dict"):
        pairs = _paired_infosets(g, os_game)
        entries = [(p, I, k, pairs[(p, I)]) for p, I, k, _ in entries]
    for p, I, key, state in entries:
        row = lookup(key, state, p)
        for a, lab in enumerate(g.treeplex[p].actions[I]):
            probs[p][I, a] = row.get(lab, 0.0)
    out = TabularPolicy(g, tuple(probs))
    validate_game_policy(g, out)
    return out


# ----------------------------------------------------------------------------------------------
# OpenSpiel's own evaluators (cross-checks and benchmarks)
# ----------------------------------------------------------------------------------------------
def openspiel_exploitability(g: ExtensiveFormGame, policy: TabularPolicy, os_game=None) -> float:
    """OpenSpiel's C++ ``pyspiel.exploitability`` of ``policy`` (two-player zero-sum games)."""
    pyspiel = _pyspiel()
    os_game = load_openspiel_game(g) if os_game is None else os_game
    tab = to_openspiel_policy(g, policy, os_game)
    return float(pyspiel.exploitability(os_game, pyspiel.TabularPolicy(tab.to_dict())))


def openspiel_nash_conv(g: ExtensiveFormGame, policy: TabularPolicy, os_game=None) -> float:
    """OpenSpiel's C++ ``pyspiel.nash_conv`` of ``policy`` (any two-player game)."""
    pyspiel = _pyspiel()
    os_game = load_openspiel_game(g) if os_game is None else os_game
    tab = to_openspiel_policy(g, policy, os_game)
    return float(pyspiel.nash_conv(os_game, pyspiel.TabularPolicy(tab.to_dict()), False))


def openspiel_expected_returns(g: ExtensiveFormGame, policy: TabularPolicy, os_game=None) -> np.ndarray:
    """OpenSpiel's ``expected_game_score.policy_value`` of ``policy``: ``[2]`` expected returns."""
    from open_spiel.python.algorithms import expected_game_score

    os_game = load_openspiel_game(g) if os_game is None else os_game
    tab = to_openspiel_policy(g, policy, os_game)
    return np.asarray(expected_game_score.policy_value(os_game.new_initial_state(), [tab, tab]), dtype=np.float64)
