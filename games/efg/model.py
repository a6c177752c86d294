r"""Two-player extensive-form games with chance: a declarative tree, compiled to arrays.

A game is written as a nested tree of three node types::

    Decision(player, infoset, {action_label: child, ...})   # an information set key names what the player knows
    Chance({outcome_label: (probability, child), ...})
    Terminal((u_0, u_1))

and compiled by :class:`ExtensiveFormGame` (breadth first) into

* the **treeplex** of each player :math:`i`: information sets sorted by *own depth* (the number of the
  player's earlier decisions), a legal-action mask ``mask[I, a]``, the parent sequence ``parent_seq[I]``
  and contiguous depth levels. Sequences use a padded layout: index 0 is the empty sequence and
  sequence :math:`(I, a)` has index ``1 + I * A + a`` (``A`` = most actions at any information set), so a
  sequence-form strategy ``x[..., 1:]`` reshapes to ``[..., I, A]`` and every treeplex recursion is one
  masked reduction plus one ``index_add`` per depth level (no per-information-set Python loop);
* the **sequence-form payoffs** as a terminal list: terminal :math:`z` has chance reach :math:`c(z)`,
  last sequences :math:`\sigma_0(z), \sigma_1(z)` and payoffs :math:`u_i(z)`, so that
  :math:`x^\top A_i y = \sum_z c(z) u_i(z) x_{\sigma_0(z)} y_{\sigma_1(z)}` (the payoff "matrix"
  :math:`A_i[\sigma_0, \sigma_1] = \sum_{z} c(z) u_i(z)` is a sparse sum over terminals);
* the **history tree** (parents before children, children contiguous) used by samplers and by the
  PettingZoo environments.

Perfect recall is checked while compiling: every history of an information set must carry the same own
sequence (the player's earlier information sets and actions) and the same legal actions; a violation is
a :class:`PerfectRecallError` naming the information set and the two conflicting sequences.

The arrays the torch solvers use are built by :meth:`ExtensiveFormGame.tensors`
(:class:`games.efg.sequence_form.SequenceFormTensors`); policies are :class:`games.efg.policy.TabularPolicy`.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Any, Hashable, Mapping

import numpy as np
import torch

from games.efg.sequence_form import SequenceFormTensors
from theory.validation import ShapeError, check_finite, as_float_array


class GameError(ValueError):
    """A malformed game definition (the message names the offending node or information set)."""


class PerfectRecallError(GameError):
    """Two histories of one information set differ in the acting player's own earlier sequence."""


class PayoffShapeError(GameError):
    """Payoffs of the wrong shape (e.g. a terminal with one payoff in a two-player game)."""


# ----------------------------------------------------------------------------------------------
# Declarative tree
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Terminal:
    """A terminal history with one payoff per player."""

    payoffs: tuple

    def __post_init__(self):
        u = np.atleast_1d(as_float_array(self.payoffs, name="Terminal payoffs"))
        if u.ndim != 1:
            raise ShapeError(f"Terminal payoffs must be one number per player, got shape {u.shape}")
        check_finite("Terminal payoffs", u)
        object.__setattr__(self, "payoffs", tuple(float(x) for x in u))


@dataclass(frozen=True, eq=False)
class Chance:
    """A chance node: ``outcomes`` maps an outcome label to ``(probability, child)``."""

    outcomes: Any

    def __post_init__(self):
        if isinstance(self.outcomes, Mapping):
            items = tuple((lab, p, ch) for lab, (p, ch) in self.outcomes.items())
        else:
            items = tuple((lab, p, ch) for lab, p, ch in self.outcomes)
        object.__setattr__(self, "outcomes", tuple((lab, float(p), ch) for lab, p, ch in items))


@dataclass(frozen=True, eq=False)
class Decision:
    """A decision of ``player`` at information set ``infoset``; ``children`` maps action label -> child."""

    player: int
    infoset: Hashable
    children: Any

    def __post_init__(self):
        items = self.children.items() if isinstance(self.children, Mapping) else self.children
        object.__setattr__(self, "children", tuple((lab, ch) for lab, ch in items))


Node = Terminal | Chance | Decision


# ----------------------------------------------------------------------------------------------
# Compiled game
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Treeplex:
    """One player's sequence-form structure (padded layout; see the module docstring)."""

    player: int
    keys: tuple
    """Information-set keys, sorted by own depth."""
    actions: tuple
    """Action labels per information set."""
    mask: np.ndarray
    """``[I, A]`` bool: legal actions."""
    parent_seq: np.ndarray
    """``[I]`` padded index of the parent sequence (0 = empty sequence)."""
    levels: tuple
    """``((start, end), ...)`` contiguous information-set ranges per own depth."""
    num_children: np.ndarray
    """``[n_seq]`` number of information sets whose parent is each sequence."""

    @property
    def num_infosets(self) -> int:
        return len(self.keys)

    @property
    def num_sequences(self) -> int:
        """Legal sequences including the empty one (e.g. 13 for each Kuhn player)."""
        return 1 + int(self.mask.sum())

    @property
    def n_seq(self) -> int:
        """Length of the padded sequence vector, ``1 + I * A``."""
        return 1 + self.mask.size

    def index(self, key) -> int:
        try:
            return self._index[key]
        except KeyError:
            raise KeyError(f"player {self.player} has no information set {key!r}") from None

    def __post_init__(self):
        object.__setattr__(self, "_index", {k: i for i, k in enumerate(self.keys)})


class ExtensiveFormGame:
    """A compiled two-player extensive-form game with chance (see the module docstring).

    Parameters
    ----------
    root: the tree (``Decision`` / ``Chance`` / ``Terminal``).
    name: a label.
    zero_sum: ``None`` detects it from the payoffs (``u_0 + u_1 = 0`` at every terminal).
    """

    num_players = 2

    def __init__(self, root: Node, name: str = "game", zero_sum: bool | None = None):
        self.name = name
        self.root = root
        self._compile(root)
        u = self.terminal_payoffs
        detected = bool(np.allclose(u[:, 0] + u[:, 1], 0.0, atol=1e-12))
        self.zero_sum = detected if zero_sum is None else bool(zero_sum)
        if self.zero_sum and not detected:
            raise PayoffShapeError(f"{name}: zero_sum=True but u_0 + u_1 != 0 at some terminal")
        self.common_payoff = bool(np.allclose(u[:, 0], u[:, 1], atol=1e-12))
        self._tensors: dict = {}

    # -- compilation --------------------------------------------------------------------------
    def _compile(self, root):
        n = self.num_players
        reg = [dict() for _ in range(n)]  # key -> dict(actions, parent, depth, order, first_history)
        # history arrays (lists while building)
        player, infoset_ins, parent, action, prob, depth = [], [], [], [], [], []
        payoff, child_start, nchild, labels = [], [], [], []
        seq_inf = [[] for _ in range(n)]
        seq_act = [[] for _ in range(n)]
        own_depth = [[] for _ in range(n)]

        def add(node, par, a, p, lab, sinf, sact, odep, d):
            h = len(player)
            if not isinstance(node, (Terminal, Chance, Decision)):
                raise GameError(f"history {self._path_str(labels, parent, par, lab)}: expected Decision, Chance or "
                                f"Terminal, got {type(node).__name__}")
            player.append(-1 if isinstance(node, Chance) else (-2 if isinstance(node, Terminal) else int(node.player)))
            infoset_ins.append(-1)
            parent.append(par)
            action.append(a)
            prob.append(p)
            depth.append(d)
            labels.append(lab)
            payoff.append(None)
            child_start.append(-1)
            nchild.append(0)
            for i in range(n):
                seq_inf[i].append(sinf[i])
                seq_act[i].append(sact[i])
                own_depth[i].append(odep[i])
            return h

        queue = deque()
        h0 = add(root, -1, -1, 1.0, None, (-1,) * n, (-1,) * n, (0,) * n, 0)
        queue.append((root, h0))
        while queue:
            node, h = queue.popleft()
            sinf = tuple(seq_inf[i][h] for i in range(n))
            sact = tuple(seq_act[i][h] for i in range(n))
            odep = tuple(own_depth[i][h] for i in range(n))
            if isinstance(node, Terminal):
                if len(node.payoffs) != n:
                    raise PayoffShapeError(f"terminal history {self._path(labels, parent, h)} has {len(node.payoffs)} "
                                           f"payoff(s) {node.payoffs}; expected one per player ({n})")
                if not all(math.isfinite(u) for u in node.payoffs):
                    raise PayoffShapeError(f"terminal history {self._path(labels, parent, h)} has non-finite payoffs "
                                           f"{node.payoffs}")
                payoff[h] = node.payoffs
                continue
            if isinstance(node, Chance):
                if not node.outcomes:
                    raise GameError(f"chance node at history {self._path(labels, parent, h)} has no outcomes")
                ps = np.array([o[1] for o in node.outcomes])
                if (ps < 0).any() or not np.isfinite(ps).all() or abs(ps.sum() - 1.0) > 1e-9:
                    where = self._path(labels, parent, h)
                    raise GameError(f"chance probabilities at history {where} are {ps.tolist()} "
                                    f"(sum {ps.sum():.6g}); they must be >= 0 and sum to 1")
                child_start[h] = len(player)
                nchild[h] = len(node.outcomes)
                for k, (lab, p, ch) in enumerate(node.outcomes):
                    c = add(ch, h, k, p, lab, sinf, sact, odep, depth[h] + 1)
                    queue.append((ch, c))
                continue
            i = node.player
            if i not in range(n):
                raise GameError(f"decision at history {self._path(labels, parent, h)} has player {i!r}; "
                                f"expected 0..{n - 1}")
            if not node.children:
                raise GameError(f"information set {node.infoset!r} of player {i} has no actions")
            acts = tuple(lab for lab, _ in node.children)
            if len(set(acts)) != len(acts):
                raise GameError(f"information set {node.infoset!r} of player {i} has repeated action labels {acts}")
            own = (sinf[i], sact[i])
            key = node.infoset
            if key not in reg[i]:
                reg[i][key] = dict(actions=acts, parent=own, depth=odep[i], order=len(reg[i]), first=h)
            else:
                r = reg[i][key]
                if r["actions"] != acts:
                    raise GameError(f"information set {key!r} of player {i} has actions {r['actions']} at history "
                                    f"{self._path(labels, parent, r['first'])} but {acts} at history "
                                    f"{self._path(labels, parent, h)}")
                if r["parent"] != own:
                    raise PerfectRecallError(
                        f"information set {key!r} of player {i} violates perfect recall: history "
                        f"{self._path(labels, parent, r['first'])} follows own sequence "
                        f"{self._seq_str(reg[i], r['parent'])} but history {self._path(labels, parent, h)} follows "
                        f"{self._seq_str(reg[i], own)}")
            infoset_ins[h] = reg[i][key]["order"]
            child_start[h] = len(player)
            nchild[h] = len(acts)
            ins = reg[i][key]["order"]
            for a, (lab, ch) in enumerate(node.children):
                si = list(sinf)
                sa = list(sact)
                od = list(odep)
                si[i], sa[i], od[i] = ins, a, odep[i] + 1
                c = add(ch, h, a, 1.0, lab, tuple(si), tuple(sa), tuple(od), depth[h] + 1)
                queue.append((ch, c))

        A = max((len(r["actions"]) for rg in reg for r in rg.values()), default=1)
        self.num_actions = A
        treeplexes, perms = [], []
        for i in range(n):
            items = sorted(reg[i].items(), key=lambda kv: (kv[1]["depth"], kv[1]["order"]))
            perm = np.empty(len(items), dtype=np.int64)  # insertion order -> sorted index
            for new, (_, r) in enumerate(items):
                perm[r["order"]] = new
            perms.append(perm)
            I = len(items)
            mask = np.zeros((I, A), dtype=bool)
            parent_seq = np.zeros(I, dtype=np.int64)
            for new, (_, r) in enumerate(items):
                mask[new, : len(r["actions"])] = True
                pi_, pa = r["parent"]
                parent_seq[new] = 0 if pi_ < 0 else 1 + perm[pi_] * A + pa
            depths = np.array([r["depth"] for _, r in items], dtype=np.int64)
            levels = tuple((int(np.searchsorted(depths, d, "left")), int(np.searchsorted(depths, d, "right")))
                           for d in range(int(depths.max()) + 1)) if I else ()
            num_children = np.bincount(parent_seq, minlength=1 + I * A).astype(np.float64)
            treeplexes.append(Treeplex(i, tuple(k for k, _ in items), tuple(r["actions"] for _, r in items), mask,
                                       parent_seq, levels, num_children))
        self.treeplex = tuple(treeplexes)

        H = len(player)
        self.h_player = np.array(player, dtype=np.int64)
        ins = np.array(infoset_ins, dtype=np.int64)
        self.h_infoset = np.full(H, -1, dtype=np.int64)
        for i in range(n):
            sel = self.h_player == i
            self.h_infoset[sel] = perms[i][ins[sel]]
        self.h_parent = np.array(parent, dtype=np.int64)
        self.h_action = np.array(action, dtype=np.int64)
        self.h_prob = np.array(prob, dtype=np.float64)
        self.h_depth = np.array(depth, dtype=np.int64)
        self.h_child_start = np.array(child_start, dtype=np.int64)
        self.h_num_children = np.array(nchild, dtype=np.int64)
        self.h_label = labels
        pay = np.zeros((H, n))
        term = self.h_player == -2
        pay[term] = np.array([payoff[h] for h in np.flatnonzero(term)])
        self.h_payoff = pay
        # own padded sequence at every history (after the move into it)
        h_seq = np.zeros((n, H), dtype=np.int64)
        for i in range(n):
            si = np.array(seq_inf[i], dtype=np.int64)
            sa = np.array(seq_act[i], dtype=np.int64)
            ok = si >= 0
            h_seq[i, ok] = 1 + perms[i][si[ok]] * A + sa[ok]
        self.h_seq = h_seq
        # chance reach, parents first (BFS order)
        cr = np.ones(H)
        for h in range(1, H):
            cr[h] = cr[self.h_parent[h]] * self.h_prob[h]
        self.h_chance_reach = cr
        z = np.flatnonzero(term)
        self.terminals = z
        self.terminal_reach = cr[z]
        self.terminal_payoffs = pay[z]
        self.terminal_seq = h_seq[:, z]

    @staticmethod
    def _path(labels, parent, h) -> str:
        out = []
        while h > 0:
            out.append(labels[h])
            h = parent[h]
        return "(" + ", ".join(repr(x) for x in reversed(out)) + ")"

    @classmethod
    def _path_str(cls, labels, parent, par, lab) -> str:
        return cls._path(labels, parent, par)[:-1] + (", " if par > 0 else "") + repr(lab) + ")"

    @staticmethod
    def _seq_str(reg, own) -> str:
        ins, a = own
        if ins < 0:
            return "<empty>"
        for k, r in reg.items():
            if r["order"] == ins:
                return f"({k!r}, {r['actions'][a]!r})"
        return "?"  # pragma: no cover

    # -- sizes and lookups ---------------------------------------------------------------------
    @property
    def num_histories(self) -> int:
        return int(self.h_player.size)

    @property
    def num_infosets(self) -> int:
        return sum(t.num_infosets for t in self.treeplex)

    def num_sequences(self, player: int) -> int:
        return self.treeplex[player].num_sequences

    def __repr__(self) -> str:
        return (f"ExtensiveFormGame({self.name!r}: {self.num_histories} histories, infosets "
                f"{[t.num_infosets for t in self.treeplex]}, {self.terminals.size} terminals, "
                f"{'zero-sum' if self.zero_sum else 'common-payoff' if self.common_payoff else 'general-sum'})")

    def payoff_matrix(self, player: int, compact: bool = False):
        """Sequence-form payoff matrix :math:`A_i` as a SciPy CSR matrix (padded, or legal sequences only)."""
        import scipy.sparse as sp

        t0, t1 = self.treeplex
        A = sp.coo_matrix((self.terminal_reach * self.terminal_payoffs[:, player],
                           (self.terminal_seq[0], self.terminal_seq[1])), shape=(t0.n_seq, t1.n_seq)).tocsr()
        if compact:
            A = A[self.legal_sequences(0)][:, self.legal_sequences(1)]
        return A

    def legal_sequences(self, player: int) -> np.ndarray:
        """Padded indices of the legal sequences (empty sequence first)."""
        return np.concatenate([[0], 1 + np.flatnonzero(self.treeplex[player].mask.ravel())])

    def max_abs_payoff_entry(self) -> float:
        """``max |A_0[s0, s1]|`` over sequence pairs (chance included): sets dilated MMD's default step."""
        t1 = self.treeplex[1]
        pair = self.terminal_seq[0] * t1.n_seq + self.terminal_seq[1]
        _, inv = np.unique(pair, return_inverse=True)
        out = 0.0
        for i in range(self.num_players):
            s = np.bincount(inv, weights=self.terminal_reach * self.terminal_payoffs[:, i])
            out = max(out, float(np.abs(s).max()))
        return out

    def to_networkx(self):
        """The history tree as a ``networkx.DiGraph`` (node attributes: player, infoset key, payoffs)."""
        import networkx as nx

        G = nx.DiGraph()
        for h in range(self.num_histories):
            p = int(self.h_player[h])
            attrs = dict(player=p, label=self.h_label[h])
            if p >= 0:
                attrs["infoset"] = self.treeplex[p].keys[self.h_infoset[h]]
            if p == -2:
                attrs["payoffs"] = tuple(self.h_payoff[h])
            G.add_node(h, **attrs)
            if h > 0:
                G.add_edge(int(self.h_parent[h]), h, label=self.h_label[h], prob=float(self.h_prob[h]))
        return G

    def infoset_graph(self, player: int):
        """The player's treeplex as a forest: information set -> (action) -> child information set.

        Perfect recall is exactly the statement that this is a forest (each information set has one parent
        sequence); compilation already enforces it.
        """
        import networkx as nx

        t = self.treeplex[player]
        G = nx.DiGraph()
        for I, k in enumerate(t.keys):
            G.add_node(k)
            ps = int(t.parent_seq[I])
            if ps:
                J, a = divmod(ps - 1, self.num_actions)
                G.add_edge(t.keys[J], k, action=t.actions[J][a])
        return G

    # -- torch views -----------------------------------------------------------------------------
    def tensors(self, device="cpu", dtype=torch.float64) -> SequenceFormTensors:
        """The sequence-form arrays on ``device`` in ``dtype`` (built once per pair, then cached)."""
        key = (str(device), dtype)
        if key not in self._tensors:
            self._tensors[key] = SequenceFormTensors.build(self, device, dtype)
        return self._tensors[key]
