r"""MRA (Zhang, Shen, Han, Shen 2021): latent-conditioned policy sets that generalise across populations.

An agent's policy is :math:`\pi(a \mid z)` with a discrete latent :math:`z \in \{1..Z\}` drawn per agent and
episode from :math:`p(z \mid n) = \mathrm{softmax}(f_\phi(n/10))` (the official code's ``TaskEncode(n/10)``;
a one-hidden-layer tanh MLP here). The modes :math:`\pi(\cdot \mid z)` are game-common knowledge and
:math:`p(z \mid n)` game-specific knowledge. In a symmetric population game every agent then plays the
marginal mixture :math:`x_n = \sum_z p(z\mid n)\,\pi(\cdot\mid z)`; for the congestion family
(:mod:`games.population`) its NashConv is exact.

**Training** (:func:`train`), one step per training population :math:`n` with :math:`E` episodes, every
agent :math:`i` drawing :math:`z_i \sim p(\cdot\mid n)`, :math:`a_i \sim \pi(\cdot\mid z_i)` and receiving
:math:`r_i = v_{a_i} / L_{a_i}`; the loss is

.. math:: \mathcal L = -\sum_n \frac{1}{E n}\sum_{e,i}\Big[(r_i - b_n)\big(\log\pi(a_i\mid z_i)
          + \log p(z_i\mid n)\big) + \beta\,\hat I_i\Big]
          - \lambda \frac{1}{|\mathcal M|}\sum_n \sum_z p(z\mid n)\log q(n \mid z)

* the first term is each agent's own policy gradient (REINFORCE; :math:`b_n` the batch-mean payoff),
  which in a congestion (potential) game ascends the potential, whose stationary points on the
  simplex are the symmetric equilibria;
* :math:`\hat I_i = \log\big(K\pi(a_i\mid z_i)\big) - \log\sum_{k=1}^K \pi(a_i\mid z_k)`, :math:`z_k \sim
  p(\cdot\mid n)`, is the official code's contrastive estimate of :math:`I(A; Z\mid O)` with :math:`K = 5`
  resamples, differentiated directly with respect to the modes (the code trains its relation network,
  the part that maps :math:`z` to behaviour, on it);
* the last term is the variational bound :math:`I(M; Z) \ge H(M) + \mathbb E\log q(M\mid Z)` with a
  game predictor :math:`q(m \mid z)`, trained jointly with the encoder (``update_task_net``).

Reconstruction: the paper's *constrained* mutual-information objective is not in the released code;
here the return term carries the weight 1 and the two information terms small weights
:math:`\beta, \lambda`, i.e. a penalty form of "maximise the information terms while each latent policy
stays near-optimal".

**Fast adaptation** (:meth:`MRAModel.adapt`). Reconstruction: the released code has no adaptation
routine. On a population :math:`n'` (seen or not) the logits :math:`\ell` of :math:`p(z \mid n')` start at
the encoder's output and take first-order steps along each agent's own expected-payoff gradient
(the others held at the same mixture):

.. math:: \ell_{k+1} = \ell_k + \eta\, J_{\mathrm{softmax}}(\ell_k)^\top\, \Pi\, u(x_k),\qquad
          x_k = \Pi^\top \mathrm{softmax}(\ell_k),

where :math:`\Pi` is the ``[Z, K]`` mode matrix and :math:`u` the exact payoffs of :mod:`games.population`.
With ``latent_size=1`` there is nothing to adapt: this is the unimodal (Reptile-like) baseline.

Example:
    >>> from games import mra
    >>> model = mra.train([2, 3, 4, 6], latent_size=3, seed=0, steps=50)
    >>> model.adapt(12, steps=10).shape
    (3,)
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from games.population.congestion import CongestionFamily, check_population, check_populations, congestion_family
from theory.backend import project_simplex, softmax
from theory.validation import ParameterError, check_scalar

__all__ = ["MRAModel", "Adaptation", "train", "adapt_weights"]


@dataclass(frozen=True)
class Adaptation:
    """The path of :meth:`MRAModel.adapt_path`.

    Attributes:
        n: the population adapted to.
        mixtures: ``[steps + 1, S, K]`` the symmetric mixture after each step (row 0: zero-shot).
        weights: ``[steps + 1, S, Z]`` the latent distribution after each step.
        nash_conv: ``[steps + 1, S]`` exact NashConv of each mixture.
    """

    n: int
    mixtures: np.ndarray
    weights: np.ndarray
    nash_conv: np.ndarray


@dataclass(frozen=True)
class MRAModel:
    r"""A trained latent policy set, for ``S`` independent seeds trained in one batch.

    Attributes:
        family: the population-varying game.
        train_populations: the training populations.
        latent_size: :math:`Z`.
        modes: ``[S, Z, K]`` the mode policies :math:`\pi(\cdot\mid z)`.
        encoder: ``(W1[S, H], b1[S, H], W2[S, Z, H], b2[S, Z])`` of :math:`f_\phi`.
        predictor: ``[S, Z, |M|]`` logits of :math:`q(m\mid z)`.
        env_steps: environment steps taken in training (episodes x games x steps x seeds).
        history: ``[steps, S, |M|]`` exact NashConv of the training mixtures per step, or ``None``.
    """

    family: CongestionFamily
    train_populations: tuple
    latent_size: int
    modes: np.ndarray
    encoder: tuple = field(repr=False)
    predictor: np.ndarray = field(repr=False)
    env_steps: int = 0
    history: np.ndarray | None = field(default=None, repr=False)

    @property
    def seeds(self) -> int:
        return int(self.modes.shape[0])

    def latent_logits(self, n) -> np.ndarray:
        """``[S, Z]`` the encoder's logits of :math:`p(z\\mid n)` (zero-shot, any ``n >= 1``)."""
        n = check_population("n", n)
        W1, b1, W2, b2 = self.encoder
        h = np.tanh(W1 * (n / 10.0) + b1)
        return (np.einsum("szh,sh->sz", W2, h) + b2) / 4.0

    def latent_weights(self, n) -> np.ndarray:
        """``[S, Z]`` the encoder's :math:`p(z\\mid n)`."""
        return softmax(np.asarray(self.latent_logits(n), dtype=float))

    def mixture(self, n, weights=None) -> np.ndarray:
        """``[S, K]`` the symmetric mixture :math:`\\sum_z p(z\\mid n)\\pi(\\cdot\\mid z)` (``weights`` overrides p)."""
        w = self.latent_weights(n) if weights is None else np.asarray(weights, dtype=float)
        return np.einsum("sz,szk->sk", w, self.modes)

    def adapt_path(self, n, steps: int, lr: float = 0.1) -> Adaptation:
        """Fast adaptation to population ``n`` (see the module docstring), recording every step."""
        n = check_population("n", n)
        steps = check_scalar("steps", steps, low=0, integer=True)
        lr = check_scalar("lr", lr, low=0.0, low_open=True)
        w = self.latent_weights(n)
        ws, xs = [], []
        for k in range(steps + 1):
            ws.append(w)
            xs.append(np.einsum("sz,szk->sk", w, self.modes))
            if k < steps:
                w = adapt_weights(self.family, n, w, self.modes, lr)
        xs = np.stack(xs)
        return Adaptation(n, xs, np.stack(ws), self.family.nash_conv(n, xs))

    def adapt(self, n, steps: int, lr: float = 0.1) -> np.ndarray:
        """The symmetric mixture after ``steps`` adaptation steps on population ``n``.

        Args:
            n: population, an int >= 1 (unseen populations allowed).
            steps: first-order steps on the logits of :math:`p(z\\mid n)` (0 = zero-shot).
            lr: step size :math:`\\eta`.

        Returns:
            ``[K]`` mixture over resources (``[S, K]`` when the model holds several seeds).
        """
        x = self.adapt_path(n, steps, lr).mixtures[-1]
        return x[0] if self.seeds == 1 else x


def adapt_weights(family: CongestionFamily, n: int, weights, modes, lr: float) -> np.ndarray:
    r"""One adaptation step :math:`w \leftarrow \mathrm{proj}_{\Delta_Z}(w + \eta\, \Pi u(\Pi^\top w))` (batched).

    Args:
        family: the game family.
        n: population.
        weights: ``[S, Z]`` the latent distribution :math:`p(z\mid n)`.
        modes: ``[S, Z, K]`` modes :math:`\Pi`.
        lr: step size :math:`\eta`.

    Returns:
        ``[S, Z]`` the new latent distribution.
    """
    x = np.einsum("sz,szk->sk", weights, modes)
    g = np.einsum("szk,sk->sz", modes, family.payoffs(n, x))  # d(own payoff)/dp_z
    return project_simplex(np.asarray(weights + lr * g, dtype=float))


def _check_train_args(train_populations, latent_size, seeds, steps, episodes, resamples, lr, mi_weight,
                      id_weight, hidden):
    pops = check_populations("train_populations", train_populations)
    return (pops, check_scalar("latent_size", latent_size, low=1, integer=True),
            check_scalar("seeds", seeds, low=1, integer=True), check_scalar("steps", steps, low=0, integer=True),
            check_scalar("episodes", episodes, low=1, integer=True),
            check_scalar("resamples", resamples, low=1, integer=True),
            check_scalar("lr", lr, low=0.0, low_open=True), check_scalar("mi_weight", mi_weight, low=0.0),
            check_scalar("id_weight", id_weight, low=0.0), check_scalar("hidden", hidden, low=1, integer=True))


def train(train_populations, latent_size: int, seed: int = 0, *, family: CongestionFamily | None = None,
          seeds: int = 1, steps: int = 1000, episodes: int = 32, lr: float = 0.05, mi_weight: float = 2.0,
          id_weight: float = 0.05, resamples: int = 5, hidden: int = 16, device: str = "cpu",
          history: bool = False, progress: bool | None = None, exact: bool = False) -> MRAModel:
    r"""Train a latent policy set on ``train_populations`` (module docstring), ``seeds`` seeds in one batch.

    Args:
        train_populations: the training populations (non-empty, distinct integers >= 1).
        latent_size: :math:`Z \ge 1` (1 = unimodal baseline).
        seed: seeds the torch generator of the whole batch (a run is a pure function of the arguments).
        family: the game family (default :func:`games.population.congestion_family`).
        seeds: independent trainings batched along a leading axis ``S``.
        steps: Adam steps; each plays ``episodes`` episodes of every training population.
        episodes: episodes per population and step.
        lr: Adam step size.
        mi_weight: :math:`\beta`, weight of the contrastive :math:`I(A;Z)` bonus (0 switches it off).
        id_weight: :math:`\lambda`, weight of the game-identification bound on :math:`I(M;Z)`.
        resamples: :math:`K` latents resampled in the contrastive estimate (5 in the official code).
        hidden: encoder width.
        device: torch device (``"cpu"``, ``"cuda"``).
        history: record the exact training-game NashConv of every step.
        progress: tqdm bar (``None``: only on a terminal).

    Returns:
        :class:`MRAModel`.

    Raises:
        ParameterError: empty or non-integer populations, ``latent_size < 1``, other bad scalars.
    """
    import torch
    from tqdm.auto import tqdm

    (pops, Z, S, steps, E, R, lr, beta, lam, H) = _check_train_args(
        train_populations, latent_size, seeds, steps, episodes, resamples, lr, mi_weight, id_weight, hidden)
    seed = check_scalar("seed", seed, low=0, integer=True)
    family = congestion_family() if family is None else family
    if not isinstance(family, CongestionFamily):
        raise ParameterError(f"family must be a CongestionFamily, got {type(family).__name__}")
    K, G, N = family.num_resources, len(pops), max(pops)
    dt = torch.float64
    gen = torch.Generator(device=device).manual_seed(seed)
    init = torch.Generator().manual_seed(seed)  # parameters drawn on the CPU: identical on every device

    def param(*shape, scale):
        return (torch.randn(*shape, generator=init, dtype=dt) * scale).to(device).requires_grad_(True)

    theta = param(S, Z, K, scale=1.0)
    W1, b1 = param(S, H, scale=1.0), param(S, H, scale=1.0)
    W2, b2 = param(S, Z, H, scale=0.0), param(S, Z, scale=0.0)  # p(z | n) uniform at the start
    phi = param(S, Z, G, scale=0.1)
    opt = torch.optim.Adam([theta, W1, b1, W2, b2, phi], lr=lr)
    n_g = torch.tensor(pops, dtype=dt, device=device)
    mask = (torch.arange(N, device=device)[None, :] < n_g[:, None]).to(dt)  # [G, N]
    values = torch.tensor(np.array(family.values), dtype=dt, device=device)
    gidx = torch.arange(G, device=device)
    hist = []
    for _ in tqdm(range(steps), desc=f"MRA |Z|={Z}", disable=None if progress is None else not progress,
                  leave=False):
        logp_z = torch.log_softmax(_encode(n_g, W1, b1, W2, b2), -1)  # [S, G, Z]
        logpi = torch.log_softmax(theta, -1)  # [S, Z, K]
        z = _sample(logp_z.detach().exp()[:, :, None, None, :].expand(S, G, E, N, Z), gen)  # [S, G, E, N]
        lp_a = logpi[torch.arange(S, device=device)[:, None, None, None], z]  # [S, G, E, N, K]
        a = _sample(lp_a.detach().exp(), gen)
        onehot = torch.nn.functional.one_hot(a, K).to(dt) * mask[None, :, None, :, None]
        load = onehot.sum(3, keepdim=True)  # [S, G, E, 1, K] (valid agents only)
        x = torch.einsum("sgz,szk->sgk", logp_z.exp(), logpi.exp())  # marginal mixture per population
        w = (mask[:, None, :] / (E * n_g[:, None, None]))[None]  # [1, G, 1, N]
        if exact:  # the estimator's expectation: u_k(x) = v_k g_n(x_k)
            u = family.payoffs(n_g.long().cpu().numpy()[None, :], x.detach())
            loss = -(x * u).sum()
        else:
            q = values / (1.0 + load - onehot)  # [S, G, E, N, K]: payoff of each own action against the others
            loss = -((x[:, :, None, None, :] * q).sum(-1) * w).sum()
        if beta > 0 and Z > 1:
            zr = _sample(logp_z.detach().exp()[:, :, None, None, None, :].expand(S, G, E, N, R, Z), gen)
            lp_r = logpi[torch.arange(S, device=device)[:, None, None, None, None], zr]  # [S,G,E,N,R,K]
            lp_ar = lp_r.gather(-1, a[..., None, None].expand(S, G, E, N, R, 1))[..., 0]
            mi = np.log(R) + lp_a.gather(-1, a[..., None])[..., 0] - torch.logsumexp(lp_ar, -1)
            loss = loss - beta * (mi * w).sum()
        if lam > 0 and Z > 1:
            logq = torch.log_softmax(phi, -1)[:, :, gidx].transpose(1, 2)  # [S, G, Z]: log q(g | z)
            loss = loss - lam * (logp_z.exp() * logq).sum() / G
        opt.zero_grad()
        loss.backward()
        opt.step()
        if history:
            with torch.no_grad():
                x = torch.einsum("sgz,szk->sgk", torch.softmax(_encode(n_g, W1, b1, W2, b2), -1),
                                 torch.softmax(theta, -1))
                hist.append(family.nash_conv(np.array(pops), x.cpu().numpy()))
    with torch.no_grad():
        modes = torch.softmax(theta, -1).cpu().numpy()
        enc = tuple(t.detach().cpu().numpy().copy() for t in (W1, b1, W2, b2))
    return MRAModel(family=family, train_populations=pops, latent_size=Z, modes=modes, encoder=enc,
                    predictor=phi.detach().cpu().numpy(), env_steps=int(steps * G * E * S),
                    history=np.stack(hist) if hist else None)


def _encode(n_g, W1, b1, W2, b2):
    """``[S, G, Z]`` encoder logits :math:`f_\\phi(n/10)` for populations ``n_g[G]``."""
    import torch

    h = torch.tanh(W1[:, None, :] * (n_g[None, :, None] / 10.0) + b1[:, None, :])  # [S, G, H]
    return (torch.einsum("szh,sgh->sgz", W2, h) + b2[:, None, :]) / 4.0


def _sample(probs, gen):
    """Inverse-CDF samples of the categorical distributions ``probs[..., C]`` (one uniform each)."""
    import torch

    u = torch.rand(probs.shape[:-1] + (1,), generator=gen, dtype=probs.dtype, device=probs.device)
    c = probs.cumsum(-1)
    return torch.searchsorted(c, u * c[..., -1:]).clamp_max(probs.shape[-1] - 1)[..., 0]
