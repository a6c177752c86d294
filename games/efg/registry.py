r"""Games by name: the forms accepted by the pipeline's ``games`` config key and by :func:`load_game`.

Allowed forms (:data:`GAME_FORMS`):

* ``"kuhn_poker"``, ``"leduc_poker"``: the package's declarative trees (:mod:`games.efg.poker`);
* ``"tiny_hanabi_A"`` ... ``"tiny_hanabi_F"``: the common-payoff suite (:mod:`games.efg.tiny_hanabi`);
* ``"openspiel:<name>"``: a short name of the verified catalogue (:data:`games.efg.openspiel.CATALOGUE`, e.g.
  ``"openspiel:liars_dice"``) or any OpenSpiel game string (``"openspiel:goofspiel(num_cards=3)"``), compiled
  by :func:`games.efg.openspiel.from_openspiel` (needs the ``openspiel`` extra);
* ``"python:<module>:<function>"``: a user's own game, ``importlib.import_module(module).function()`` returning
  an :class:`~games.efg.model.ExtensiveFormGame` (the module must be importable, e.g. a file at the
  repository root where the pipeline runs; see ``docs/games.md``).
"""
from __future__ import annotations

import re
from functools import lru_cache

from games.efg.model import ExtensiveFormGame, GameError

GAME_FORMS = ("kuhn_poker", "leduc_poker", "tiny_hanabi_<A-F>", "openspiel:<catalogue name or OpenSpiel game string>",
              "python:<module>:<function returning an ExtensiveFormGame>")
GAME_PATTERN = (r"^(kuhn_poker|leduc_poker|tiny_hanabi_[A-F]|openspiel:[A-Za-z0-9_]+(\([A-Za-z0-9_=,.;\[\]()]*\))?"
                r"|python:[A-Za-z_][A-Za-z0-9_.]*:[A-Za-z_][A-Za-z0-9_]*)$")
"""Regular expression of a game spec (the same pattern is in ``workflow/schemas/config.schema.yaml``)."""


class GameSpecError(GameError):
    """A game spec that is not one of :data:`GAME_FORMS` (the message lists them)."""


def check_game_spec(spec, zero_sum: bool = False) -> str:
    """Validate a game spec without compiling the game; returns it.

    Args:
        spec: a string of one of the :data:`GAME_FORMS`.
        zero_sum: also require a zero-sum game (tiny Hanabi is common-payoff; an OpenSpiel game must declare
            ``Utility.ZERO_SUM``).

    Returns:
        ``spec`` unchanged.

    Raises:
        GameSpecError: not a string, not of an allowed form, or (with OpenSpiel installed) an OpenSpiel game that
            OpenSpiel cannot load or :func:`games.from_openspiel` cannot compile (more than two players,
            simultaneous moves, ...); the message names the spec and the allowed forms.
    """
    forms = ", ".join(GAME_FORMS)
    if not isinstance(spec, str) or not re.match(GAME_PATTERN, spec):
        raise GameSpecError(f"game {spec!r} is not an allowed form; allowed: {forms}")
    if spec.startswith("tiny_hanabi_") and zero_sum:
        raise GameSpecError(f"game {spec!r} is common-payoff; this experiment needs a zero-sum game")
    if spec.startswith("python:"):
        g = _user_game(spec)
        if zero_sum and not g.zero_sum:
            raise GameSpecError(f"game {spec!r} is not zero-sum; this experiment needs a zero-sum game")
        return spec
    if not spec.startswith("openspiel:"):
        return spec
    from games.efg.openspiel import CATALOGUE, OpenSpielCompileError, check_compilable

    try:
        import pyspiel
    except ImportError:
        return spec
    short = spec.removeprefix("openspiel:")
    name = short.split("(")[0]
    if name not in CATALOGUE and name not in pyspiel.registered_names():
        raise GameSpecError(f"game {spec!r}: OpenSpiel has no game {name!r} (catalogue names: "
                            f"{', '.join(CATALOGUE)}); allowed: {forms}")
    string = CATALOGUE.get(short, short)
    try:
        os_game = pyspiel.load_game(string)
        check_compilable(os_game)
    except OpenSpielCompileError as e:
        raise GameSpecError(f"game {spec!r}: {e}") from None
    except Exception as e:  # pyspiel raises SpielError / RuntimeError for bad parameters
        raise GameSpecError(f"game {spec!r}: OpenSpiel cannot load {string!r}: {e}") from None
    if zero_sum and os_game.get_type().utility != pyspiel.GameType.Utility.ZERO_SUM:
        raise GameSpecError(f"game {spec!r} has utility {os_game.get_type().utility.name}; this experiment needs "
                            f"a zero-sum game")
    return spec


def _user_game(spec: str) -> ExtensiveFormGame:
    import importlib

    _, module, func = spec.split(":")
    try:
        factory = getattr(importlib.import_module(module), func)
    except (ImportError, AttributeError) as e:
        raise GameSpecError(f"game {spec!r}: cannot import {module}.{func} ({e})") from None
    g = factory()
    if not isinstance(g, ExtensiveFormGame):
        raise GameSpecError(f"game {spec!r}: {module}.{func}() returned {type(g).__name__}, not an "
                            f"ExtensiveFormGame")
    return g


@lru_cache(maxsize=None)
def load_game(spec: str) -> ExtensiveFormGame:
    """The compiled game for a spec of :data:`GAME_FORMS` (cached: treat it as immutable).

    Example:
        >>> load_game("kuhn_poker").num_infosets
        12
    """
    check_game_spec(spec)
    if spec == "kuhn_poker":
        from games.efg.poker import kuhn_poker

        return kuhn_poker()
    if spec == "leduc_poker":
        from games.efg.poker import leduc_poker

        return leduc_poker()
    if spec.startswith("tiny_hanabi_"):
        from games.efg.tiny_hanabi import tiny_hanabi

        return tiny_hanabi(spec[-1])
    if spec.startswith("python:"):
        g = _user_game(spec)
        g.name = spec
        return g
    from games.efg.openspiel import from_openspiel

    g = from_openspiel(spec)
    if g.name != spec:
        g.name = spec
    return g
