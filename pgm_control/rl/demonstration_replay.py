r"""Demonstrations for the deep off-policy agents (CS285 notes, "Imitation vs. RL").

* Pretrain & finetune: (1) collect demonstrations (s_i, a_i); (2) initialize π_θ as
  max_θ Σ_i log π_θ(a_i|s_i) (:func:`pgm_control.rl.behaviour_cloning`); (3) run π_θ to collect
  experience; (4) improve π_θ with any RL algorithm (``agent.train``): :func:`pretrain_and_finetune`.
* "Q-learning is already off-policy ... drop demonstrations into the replay buffer":
  :class:`DemonstrationReplayBuffer` keeps the demonstrated transitions beside the agent's own ring,
  D = D_agent ∪ D_demo, and each batch of B draws either uniformly from the union or a fixed share
  round(f B) from D_demo (the demonstration share of DQfD, Hester et al. 2018); the demonstrations are
  never overwritten. ``prioritized=True`` replaces the fixed share by DQfD's proportional prioritized
  replay over the union (:mod:`pgm_control.rl.replay`): priorities |δ| + ε_a, plus a bonus ε_d for the
  demonstrations, set the share, and importance weights correct the loss. The Bellman loss alone has no
  term that keeps a demonstrated action on top, so for :class:`SoftQ` ``use_demonstrations(..., margin=l)``
  adds DQfD's large-margin loss λ_E E_{(s,a_E)~D_demo}[J_E(Q)] (:func:`large_margin_loss`) to every update.
* The hybrid objective E_π[r] + λ Σ_{(s,a)∈D_demo} log π_θ(a|s) ("Hybrid Goal"): :func:`add_imitation_term`
  adds λ × (-(1/B) Σ log π_θ(a_i|s_i)) on a minibatch of B demonstrated pairs to the policy's loss at
  every update — for :class:`SoftQ` (π_θ = softmax_a(Q_θ(s, a)/α)) the soft Bellman loss, for
  :class:`SAC` the policy loss J_π (minimizing ascends the imitation term; the RL loss stands in for
  -E_π[r]).
"""

from __future__ import annotations

import torch

from pgm_control._checks import (
    check_indices,
    check_nonnegative,
    check_positive,
    check_positive_integer,
    check_real,
    check_seed,
    shape_str,
)
from pgm_control.rl.behaviour_cloning import NeuralCloningResult, behaviour_cloning, cloning_policy
from pgm_control.rl.networks import squashed_gaussian_log_prob
from pgm_control.rl.replay import (
    Prioritization,
    PrioritizedSample,
    ReplayBuffer,
    Transitions,
    priority_importance_weights,
    priority_log_probabilities,
)
from pgm_control.rl.soft_q import SoftQ, boltzmann_log_policy
from pgm_control.rl.training import OffPolicyAgent, TrainingHistory


class DemonstrationReplayBuffer(ReplayBuffer):
    r"""A :class:`~pgm_control.rl.ReplayBuffer` whose batches also draw from fixed demonstrated transitions.

    Args:
        capacity, observation_shape, action_shape, action_dtype, seed: as for ``ReplayBuffer`` (the ring
            of the agent's own transitions).
        demonstrations: the demonstrated :class:`~pgm_control.rl.Transitions` (M of them, batch first).
        demo_fraction: None: uniform over all M + len(ring) transitions; a number f in [0, 1]: round(f B)
            demonstrated transitions in every batch of B (all B while the ring is empty).
        prioritized: False (default); True or a :class:`~pgm_control.rl.Prioritization`: draw from the
            union by priority (DQfD's prioritized replay; True: DQfD's constants ω = 0.4, β = 0.6,
            ε_a = 0.001, ε_d = 1). Excludes ``demo_fraction``.

    ``len(buffer)`` counts both parts. ``state_dict`` holds the ring only (the demonstrations are the
    caller's data, and the priorities are not saved): a checkpoint of an agent restores a plain
    ``ReplayBuffer``; call :func:`use_demonstrations` again after ``load`` (the restored transitions then
    enter at the largest priority so far, as new ones do).

    **Prioritized replay** (the equations in :mod:`pgm_control.rl.replay`): row i of the priority vector
    ``priorities`` (float64, demonstrations first, then the ring's slots) holds p_i; the training loop
    calls :meth:`sample_prioritized` and, after the update, :meth:`update_priorities` with the rows' |δ|.
    There is no sum tree: each batch computes P over all N = M + len(ring) rows and draws with
    ``torch.multinomial``, O(N) per batch (a sum tree is O(B log N)): measured 0.2 ms at N = 1.1·10^4 and
    0.8 ms at N = 1.01·10^5 per batch of 128 with its priority refresh, one CPU thread, against 0.04 ms
    for a fixed-share batch.

    Example:
        >>> demos = Transitions(torch.zeros(2, 3), torch.tensor([1, 1]), torch.ones(2), torch.zeros(2, 3),
        ...                     torch.zeros(2))
        >>> buffer = DemonstrationReplayBuffer(10, (3,), (), action_dtype=torch.int64, demonstrations=demos,
        ...                                    demo_fraction=0.25)
        >>> buffer.add([1.0, 1.0, 1.0], 0, 0.0, [1.0, 1.0, 1.0], terminated=False)
        >>> batch = buffer.sample(8)
        >>> len(buffer), int(batch.rewards.sum())   # 2 of 8 are demonstrated (reward 1)
        (3, 2)
        >>> prioritized = DemonstrationReplayBuffer(10, (3,), (), action_dtype=torch.int64, demonstrations=demos,
        ...                                         prioritized=True)
        >>> sample = prioritized.sample_prioritized(4)   # P = (1/2, 1/2): both weights 1
        >>> sample.weights.tolist()
        [1.0, 1.0, 1.0, 1.0]
        >>> prioritized.update_priorities(torch.tensor([0, 1]), torch.tensor([-0.5, 0.0]))  # p = |δ| + ε_a + ε_d
        >>> prioritized.priorities[:2].tolist()
        [1.501, 1.001]
    """

    def __init__(self, capacity: int, observation_shape, action_shape=(), *, demonstrations: Transitions,
                 demo_fraction: float | None = None, prioritized: bool | Prioritization = False,
                 action_dtype: torch.dtype = torch.float32, seed: int = 0):
        super().__init__(capacity, observation_shape, action_shape, action_dtype=action_dtype, seed=seed)
        self.demonstrations = self._check_demonstrations(demonstrations)
        if demo_fraction is not None:
            demo_fraction = check_real(demo_fraction, "demo_fraction", "None or a number in [0, 1]")
            if not 0.0 <= demo_fraction <= 1.0:
                raise ValueError(f"demo_fraction must be None or a number in [0, 1], got {demo_fraction}")
        self.demo_fraction = demo_fraction
        self.prioritization = _prioritization(prioritized)
        self.priorities = None  # p_i [M + capacity] with prioritization
        if self.prioritization is not None:
            if demo_fraction is not None:
                raise ValueError("demo_fraction and prioritized exclude each other (the priorities set the "
                                 "demonstrations' share); pass demo_fraction=None with prioritized")
            self.priorities = torch.ones(self.num_demonstrations + capacity, dtype=torch.float64)
        self.max_priority = 1.0  # max_{k<i} p_k, the priority of each new transition

    @property
    def num_demonstrations(self) -> int:
        """M, the number of demonstrated transitions."""
        return self.demonstrations.rewards.shape[0]

    def __len__(self) -> int:
        return self.size + self.num_demonstrations

    def add(self, observation, action, reward: float, next_observation, terminated: bool) -> None:
        """Store one transition in the ring (``ReplayBuffer.add``); prioritized, at the largest priority so far."""
        slot = self.position
        super().add(observation, action, reward, next_observation, terminated)
        if self.priorities is not None:
            self.priorities[self.num_demonstrations + slot] = self.max_priority

    def sample(self, batch_size: int) -> Transitions:
        """``batch_size`` transitions with replacement: k from the demonstrations (k ~ Binomial(B, M/(M+n))
        for the uniform union, round(f B) for a fixed share), B - k from the agent's ring; prioritized,
        the transitions of :meth:`sample_prioritized`."""
        batch_size = check_positive_integer(batch_size, "batch_size")
        if self.prioritization is not None:
            return self.sample_prioritized(batch_size).transitions
        if self.size == 0:
            num_demo = batch_size
        elif self.demo_fraction is None:
            share = torch.full((batch_size,), self.num_demonstrations / len(self), dtype=torch.float64)
            num_demo = int(torch.bernoulli(share, generator=self.generator).sum())
        else:
            num_demo = round(self.demo_fraction * batch_size)
        index = torch.randint(self.num_demonstrations, (num_demo,), generator=self.generator)
        demo = Transitions(*(field[index] for field in self.demonstrations))
        if num_demo == batch_size:
            return demo
        own = super().sample(batch_size - num_demo)
        return Transitions(*(torch.cat(pair) for pair in zip(demo, own)))

    def sample_prioritized(self, batch_size: int) -> PrioritizedSample:
        r"""``batch_size`` rows i drawn with replacement with P(i) = p_i^ω / Σ_k p_k^ω over all N stored
        transitions, their transitions and importance weights w_i = (min_j P(j) / P(i))^β (float32);
        O(N) (class docstring)."""
        batch_size = check_positive_integer(batch_size, "batch_size")
        config = self._require_prioritization()
        log_probabilities = priority_log_probabilities(self.priorities[:len(self)], config.exponent)
        index = torch.multinomial(log_probabilities.exp(), batch_size, replacement=True, generator=self.generator)
        weights = priority_importance_weights(log_probabilities, index, config.importance_exponent)
        return PrioritizedSample(self._rows(index), index, weights.to(torch.float32))

    def update_priorities(self, index: torch.Tensor, td_errors: torch.Tensor) -> None:
        r"""p_i ← |δ_i| + ε_a, plus ε_d where row i is demonstrated, for the rows ``index`` ``[B]`` of
        :meth:`sample_prioritized` and the TD errors δ ``[B]`` of the update on them."""
        config = self._require_prioritization()
        if not isinstance(index, torch.Tensor) or index.dtype != torch.int64 or index.dim() != 1:
            raise TypeError("index must be the long tensor [B] of rows returned by sample_prioritized")
        check_indices(index, len(self), "index", " (rows of the buffer: demonstrations, then the ring)")
        if not isinstance(td_errors, torch.Tensor) or td_errors.shape != index.shape:
            raise ValueError(f"td_errors must be a tensor of shape {shape_str(index.shape)} (one per sampled row)")
        if not torch.isfinite(td_errors).all():
            raise ValueError("td_errors must be finite")
        bonus = torch.where(index < self.num_demonstrations, config.demo_bonus, 0.0)
        priorities = td_errors.detach().abs().to(torch.float64) + config.epsilon + bonus
        self.priorities[index] = priorities
        self.max_priority = max(self.max_priority, float(priorities.max()))

    def load_state_dict(self, state: dict) -> None:
        """``ReplayBuffer.load_state_dict``; prioritized, the restored transitions enter at the largest
        priority so far (priorities are not saved)."""
        super().load_state_dict(state)
        if self.priorities is not None:
            m = self.num_demonstrations
            self.priorities[m:m + self.size] = self.max_priority

    def _require_prioritization(self) -> Prioritization:
        if self.prioritization is None:
            raise ValueError("this buffer draws without priorities; build it with prioritized=True")
        return self.prioritization

    def _ring(self) -> tuple[torch.Tensor, ...]:
        return self.observations, self.actions, self.rewards, self.next_observations, self.terminated

    def _rows(self, index: torch.Tensor) -> Transitions:
        """The transitions at rows ``index`` ``[B]`` of the union: i < M demonstrated, else ring slot i - M."""
        m = self.num_demonstrations
        demo = index < m
        rows = []
        for demonstrated, ring in zip(self.demonstrations, self._ring()):
            row = ring[(index - m).clamp(min=0)]
            row[demo] = demonstrated[index[demo]]
            rows.append(row)
        return Transitions(*rows)

    def _check_demonstrations(self, demonstrations) -> Transitions:
        if not isinstance(demonstrations, Transitions):
            raise TypeError("demonstrations must be a pgm_control.rl.Transitions (observations, actions, rewards, "
                            f"next_observations, terminated), got {type(demonstrations).__name__}")
        m = demonstrations.rewards.shape[0] if demonstrations.rewards.dim() == 1 else -1
        if m < 1:
            raise ValueError("demonstrations.rewards must have shape [M] with M >= 1 demonstrated transitions, got "
                             f"{shape_str(demonstrations.rewards.shape)}")
        checked = []
        for name, value, store in zip(Transitions._fields, demonstrations, self._ring()):
            tensor = torch.as_tensor(value)
            expected = (m, *store.shape[1:])
            if tuple(tensor.shape) != expected:
                raise ValueError(f"demonstrations.{name} must have shape {shape_str(expected)}, got "
                                 f"{shape_str(tensor.shape)}")
            if store.dtype == torch.int64 and tensor.is_floating_point():
                raise TypeError(f"demonstrations.{name} must hold integers (Discrete actions), got {tensor.dtype}")
            tensor = tensor.to(store.dtype)
            if tensor.is_floating_point() and not torch.isfinite(tensor).all():
                raise ValueError(f"demonstrations.{name} must be finite")
            checked.append(tensor)
        return Transitions(*checked)


def _prioritization(prioritized) -> Prioritization | None:
    """The ``prioritized`` argument as constants: False -> None, True -> DQfD's, a Prioritization as given."""
    if isinstance(prioritized, Prioritization):
        return prioritized
    if not isinstance(prioritized, bool):
        raise TypeError(f"prioritized must be True, False or a pgm_control.rl.Prioritization, got {prioritized!r}")
    return Prioritization() if prioritized else None


def use_demonstrations(agent: OffPolicyAgent, demonstrations: Transitions, *, demo_fraction: float | None = None,
                       prioritized: bool | Prioritization = False, margin: float | None = None,
                       margin_weight: float = 1.0) -> DemonstrationReplayBuffer:
    r"""Give ``agent`` a :class:`DemonstrationReplayBuffer` with these demonstrations, keeping the
    transitions and the generator of its present buffer; returns the new buffer (``agent.buffer``).

    ``prioritized`` (True or a :class:`~pgm_control.rl.Prioritization`; SoftQ and SAC) draws each batch from
    D_agent ∪ D_demo by priority instead of a fixed share, weights the TD loss's rows by their importance
    weights and refreshes the priorities after every update (DQfD's prioritized replay; the agent's
    present transitions enter at priority 1).

    ``margin`` l > 0 (SoftQ only; None: none) adds DQfD's large-margin term λ_E = ``margin_weight`` times
    the mean of :func:`large_margin_loss` over B demonstrated transitions (B = the config's batch size) to
    every update; calling again with ``margin=None`` removes it.

    Departure from DQfD: there J_E is applied to the demonstrated rows of each replay minibatch; here the
    term draws its own minibatch from D_demo (the same distribution, an independent draw), so ``update(batch)``
    needs no record of which rows of a batch came from the demonstrations.

    With demonstrations in D the agent may update before it has acted: set the config's
    ``learning_starts`` to a batch size or 0 (its uniform random warm-up would otherwise act first)."""
    if not isinstance(agent, OffPolicyAgent):
        raise TypeError(f"agent must be a pgm_control.rl.SoftQ or SAC, got {type(agent).__name__}")
    if margin is not None:
        if not isinstance(agent, SoftQ):
            raise TypeError(f"margin needs a Discrete-action agent (pgm_control.rl.SoftQ), got {type(agent).__name__}: "
                            "the large-margin loss maximizes over the actions; use margin=None with continuous actions")
        margin = check_positive(margin, "margin", " (DQfD's margin l, in units of Q)")
    margin_weight = check_nonnegative(margin_weight, "margin_weight", " (the λ_E of DQfD's large-margin loss)")
    old = agent.buffer
    buffer = DemonstrationReplayBuffer(old.capacity, old.observations.shape[1:], old.actions.shape[1:],
                                       demonstrations=demonstrations, demo_fraction=demo_fraction,
                                       prioritized=prioritized, action_dtype=old.actions.dtype)
    buffer.load_state_dict(old.state_dict())
    agent.buffer = buffer
    term = None
    if margin is not None and margin_weight > 0.0:
        term = LargeMarginTerm(buffer.demonstrations.observations, buffer.demonstrations.actions, margin,
                               margin_weight, agent.config.batch_size, agent.seed)
    _set_auxiliary_term(agent, LargeMarginTerm, term)
    return buffer


def large_margin_loss(q: torch.Tensor, expert_actions: torch.Tensor, margin: float) -> torch.Tensor:
    r"""DQfD's large-margin classification loss of each demonstrated transition (Hester et al. 2018,
    "Deep Q-learning from Demonstrations", eq. 2):

        J_E(Q) = max_a [Q(s, a) + l(a_E, a)] - Q(s, a_E),   l(a_E, a) = margin if a ≠ a_E, 0 if a = a_E

    q = Q(s, ·) ``[B, A]``, expert_actions a_E ``[B]`` -> ``[B]``, each >= 0; zero exactly where the
    demonstrated action leads every other by the margin, Q(s, a_E) >= Q(s, a) + l. Its gradient raises
    Q(s, a_E) and lowers the action that attains the maximum.

    With SoftQ's Boltzmann policy π(a|s) = softmax_a(Q(s, a)/α) (CS285 notes, "Soft Optimality") the
    logits are Q/α, so a margin l in Q is a margin l/α in the logits: where J_E = 0,
    π(a_E|s) >= 1 / (1 + (A - 1) e^{-l/α}) (0.9997 at l = 0.8, α = 0.1, A = 2).

    >>> large_margin_loss(torch.tensor([[1.0, 0.5], [2.0, 0.0]]), torch.tensor([1, 0]), 0.8)
    tensor([1.3000, 0.0000])
    """
    penalty = torch.full_like(q, margin).scatter(-1, expert_actions[:, None], 0.0)
    q_expert = q.gather(-1, expert_actions[:, None]).squeeze(-1)
    return (q + penalty).amax(-1) - q_expert


class DemonstrationMinibatchTerm:
    """An auxiliary loss on minibatches of B demonstrated pairs (s_i, a_i) drawn with replacement by its own
    generator (so that adding it leaves the replay batches unchanged)."""

    def __init__(self, observations: torch.Tensor, actions: torch.Tensor, batch_size: int, seed: int):
        self.observations, self.actions, self.batch_size = observations, actions, batch_size
        self.generator = torch.Generator().manual_seed(seed)

    def minibatch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """B demonstrated observations ``[B, dim S]`` and actions ``[B, ...]``."""
        index = torch.randint(self.actions.shape[0], (self.batch_size,), generator=self.generator)
        return self.observations[index], self.actions[index]


class LargeMarginTerm(DemonstrationMinibatchTerm):
    r"""λ_E × (1/B) Σ_i J_E(Q_θ)(s_i, a_i) (:func:`large_margin_loss`) over a minibatch of B demonstrated
    transitions; called by :class:`SoftQ`'s ``update`` as one of its ``auxiliary_losses``."""

    def __init__(self, observations: torch.Tensor, actions: torch.Tensor, margin: float, margin_weight: float,
                 batch_size: int, seed: int):
        super().__init__(observations, actions, batch_size, seed)
        self.margin, self.margin_weight = margin, margin_weight

    def __call__(self, agent: SoftQ) -> torch.Tensor:
        observations, actions = self.minibatch()
        return self.margin_weight * large_margin_loss(agent.q(observations), actions, self.margin).mean()


def _set_auxiliary_term(agent: OffPolicyAgent, kind: type, term) -> None:
    """Replace ``agent``'s auxiliary loss of this ``kind`` by ``term`` (None: remove it), keeping the others."""
    others = tuple(existing for existing in agent.auxiliary_losses if not isinstance(existing, kind))
    agent.auxiliary_losses = others if term is None else (*others, term)


class ImitationTerm(DemonstrationMinibatchTerm):
    r"""λ × (-(1/B) Σ_i log π_θ(a_i|s_i)) over a minibatch of B demonstrated pairs; called by the agent's
    ``update`` as one of its ``auxiliary_losses`` (SoftQ: π_θ = softmax(Q_θ/α), added to the soft Bellman
    loss; SAC: the squashed Gaussian π_φ, added to the policy loss J_π)."""

    def __init__(self, observations: torch.Tensor, actions: torch.Tensor, bc_weight: float, batch_size: int,
                 seed: int):
        super().__init__(observations, actions, batch_size, seed)
        self.bc_weight = bc_weight

    def __call__(self, agent: OffPolicyAgent) -> torch.Tensor:
        return -self.bc_weight * demonstrated_log_prob(agent, *self.minibatch()).mean()


def demonstrated_log_prob(agent: OffPolicyAgent, observations: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    r"""log π_θ(a_i|s_i) ``[B]`` of the agent's policy: log softmax(Q_θ(s)/α)[a] (SoftQ) or
    :func:`~pgm_control.rl.squashed_gaussian_log_prob` at u = atanh((a - c)/h) (SAC)."""
    if isinstance(agent, SoftQ):
        log_policy = boltzmann_log_policy(agent.q(observations), agent.config.temperature)
        return log_policy.gather(-1, actions[:, None]).squeeze(-1)
    policy = agent.policy
    mean, log_std = policy(observations)
    u = torch.atanh((actions - policy.action_center) / policy.action_scale)
    return squashed_gaussian_log_prob(u, mean, log_std, policy.action_scale)


def add_imitation_term(agent: OffPolicyAgent, observations, actions, bc_weight: float, *, batch_size: int = 128,
                       seed: int = 0) -> OffPolicyAgent:
    r"""Train ``agent`` (SoftQ or SAC) on the hybrid objective from now on (module docstring): every update
    adds λ = ``bc_weight`` times the negative mean log-likelihood of ``batch_size`` demonstrated pairs
    (observations ``[n, dim S]``; actions ``[n]`` integers for SoftQ, ``[n, dim A]`` strictly inside the
    Box for SAC) to the loss of its policy (SoftQ: the soft Bellman loss, whose Q_θ is the policy; SAC: J_π).
    ``bc_weight=0`` removes the term."""
    observations, actions, _ = cloning_policy(agent, observations, actions)
    bc_weight = check_nonnegative(bc_weight, "bc_weight", " (the λ of the hybrid objective)")
    batch_size, seed = check_positive_integer(batch_size, "batch_size"), check_seed(seed)
    term = None if bc_weight == 0.0 else ImitationTerm(observations, actions, bc_weight, batch_size, seed)
    _set_auxiliary_term(agent, ImitationTerm, term)
    return agent


def pretrain_and_finetune(agent: OffPolicyAgent, demonstrations: Transitions, num_steps: int, *,
                          keep_demonstrations: bool = False, demo_fraction: float | None = None,
                          prioritized: bool | Prioritization = False, margin: float | None = None,
                          margin_weight: float = 1.0, bc_weight: float = 0.0, bc_steps: int = 1000,
                          bc_lr: float = 1e-3, seed: int = 0,
                          progress: bool = True) -> tuple[NeuralCloningResult, TrainingHistory]:
    r"""The notes' pretrain & finetune (module docstring): behaviour cloning of the demonstrated
    (s, a) pairs (:func:`pgm_control.rl.behaviour_cloning`, ``bc_steps`` steps of Adam at ``bc_lr``),
    then ``agent.train(num_steps)``; optionally with the demonstrations kept in the replay buffer
    (``keep_demonstrations``, ``demo_fraction`` or DQfD's prioritized replay ``prioritized``, and for SoftQ
    DQfD's large-margin term ``margin``, ``margin_weight``: :func:`use_demonstrations`) and the hybrid
    objective's imitation term (``bc_weight`` > 0: :func:`add_imitation_term`). With none of them, this is
    the naive fine-tuning the notes warn about. Returns the cloning result and the training history."""
    if not isinstance(demonstrations, Transitions):
        raise TypeError("demonstrations must be a pgm_control.rl.Transitions (observations, actions, rewards, "
                        f"next_observations, terminated), got {type(demonstrations).__name__}")
    if not isinstance(keep_demonstrations, bool):
        raise TypeError(f"keep_demonstrations must be True or False, got {keep_demonstrations!r}")
    for name, value, off in (("margin", margin, None), ("prioritized", prioritized, False)):
        if value is not off and not keep_demonstrations:
            raise ValueError(f"{name} applies to the demonstrations kept in the replay buffer; pass "
                             f"keep_demonstrations=True with it, or {name}={off}")
    if keep_demonstrations:  # set up (and validated) before cloning, which neither the buffer nor a term affects
        use_demonstrations(agent, demonstrations, demo_fraction=demo_fraction, prioritized=prioritized,
                           margin=margin, margin_weight=margin_weight)
    if bc_weight:
        add_imitation_term(agent, demonstrations.observations, demonstrations.actions, bc_weight, seed=seed)
    clone = behaviour_cloning(agent, demonstrations.observations, demonstrations.actions, num_steps=bc_steps,
                              lr=bc_lr, seed=seed, progress=progress)
    return clone, agent.train(num_steps, progress=progress)
