r"""RL²: meta-RL by recurrence (CS285 notes, "Meta-RL", "Recurrence"; Duan et al. 2016, "RL²: Fast
Reinforcement Learning via Slow Reinforcement Learning"; Wang et al. 2016, "Learning to reinforcement
learn").

A trial is N episodes of T steps in one task z ~ p(z). A recurrent policy π_θ(a_t | h_t) reads, at each
of the H = N · T steps of the trial, the input x_t = (s_t, a_{t−1}, r_{t−1}, d_{t−1}) — the current
state and the previous action, reward and "episode ended" flag (one-hot state and action) — and updates
its GRU hidden state h_t = GRU(h_{t−1}, x_t). The hidden state is **not** reset between the episodes of
a trial (it is how the agent remembers what it learned about z) and starts from h_0 = 0 at every new
trial. Training maximizes the expected return of the whole trial across tasks,

    J(θ) = E_{z ~ p(z)} E_{τ ~ π_θ, MDP_z} [ Σ_{t < H} r_t ],

so the policy is rewarded for exploring in early episodes when it pays off later: its optimum over
all history-dependent policies is the Bayes-optimal return of :func:`~pgm_control.meta.bayes_adaptive_value`.
The gradient is the advantage actor-critic form of the policy gradient, batched over R trials:

    ∇J ≈ (1/R) Σ_r Σ_t ∇ log π_θ(a_t | h_t) (G_t − V_ψ(h_t)),   G_t = Σ_{t' ≥ t} r_{t'}

with the value head V_ψ(h_t) (a baseline, fitted by least squares to G_t) and an entropy bonus that keeps
early exploration alive.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from pgm_control._checks import (
    check_learning_rate,
    check_nonnegative,
    check_positive_integer,
    check_seed,
    check_shape,
)
from pgm_control._progress import progress_bar
from pgm_control.meta.tasks import FiniteTaskFamily, check_family
from pgm_control.rl.policy_gradient import rewards_to_go


class RL2Agent(nn.Module):
    r"""A GRU policy π_θ(a_t | h_t) and value V_ψ(h_t) over a finite family's S states and A actions.

    ``forward(hidden [R, hidden_size], inputs [R, S + A + 2], states [R])`` returns ``(logits [R, A],
    values [R], next_hidden [R, hidden_size])``: h_t = GRU(h_{t−1}, x_t), then both heads read h_t. Actions
    that ``available`` ``[S, A]`` (all by default) marks unavailable in the current state get logit −∞.
    Float32.
    """

    def __init__(self, num_states: int, num_actions: int, hidden_size: int = 64, available=None):
        super().__init__()
        self.num_states = check_positive_integer(num_states, "num_states")
        self.num_actions = check_positive_integer(num_actions, "num_actions")
        self.hidden_size = check_positive_integer(hidden_size, "hidden_size")
        self.gru = nn.GRUCell(self.num_states + self.num_actions + 2, self.hidden_size)
        self.policy_head = nn.Linear(self.hidden_size, self.num_actions)
        self.value_head = nn.Linear(self.hidden_size, 1)
        if available is None:
            available = torch.ones(self.num_states, self.num_actions, dtype=torch.bool)
        available = torch.as_tensor(available, dtype=torch.bool)
        check_shape(available, [self.num_states, self.num_actions], "available", "A(s) mask [S, A]")
        self.register_buffer("available", available)

    def initial_hidden(self, num_trials: int) -> torch.Tensor:
        """h_0 = 0 ``[R, hidden_size]``: every trial starts with no memory of its task."""
        return torch.zeros(num_trials, self.hidden_size)

    def encode(self, states, previous_actions, previous_rewards, previous_done) -> torch.Tensor:
        """x_t = (one-hot s_t, one-hot a_{t−1}, r_{t−1}, d_{t−1}) ``[R, S + A + 2]``; a_{t−1} < 0 (the
        first step of a trial) encodes as the zero vector."""
        state_code = nn.functional.one_hot(states, self.num_states).float()
        action_code = nn.functional.one_hot(previous_actions.clamp(min=0), self.num_actions).float()
        action_code = action_code * (previous_actions >= 0)[:, None]
        return torch.cat([state_code, action_code, previous_rewards.float()[:, None],
                          previous_done.float()[:, None]], -1)

    def forward(self, hidden: torch.Tensor, inputs: torch.Tensor, states: torch.Tensor):
        hidden = self.gru(inputs, hidden)
        logits = self.policy_head(hidden).masked_fill(~self.available[states], -math.inf)
        return logits, self.value_head(hidden).squeeze(-1), hidden


@dataclass(frozen=True, eq=False)
class RL2Trials:
    r"""R trials of H = N · T steps (from :func:`rl2_rollout`): ``tasks`` ``[R]``, ``states``,
    ``actions``, ``rewards``, ``log_probs`` (log π_θ(a_t | h_t)), ``values`` (V_ψ(h_t)), ``entropies``
    ``[R, H]``, and ``hidden`` ``[R, H + 1, hidden_size]``: h_0 = 0 and h_t after reading x_t (entry t + 1
    is the state the policy acted from at step t)."""

    tasks: torch.Tensor
    states: torch.Tensor
    actions: torch.Tensor
    rewards: torch.Tensor
    log_probs: torch.Tensor
    values: torch.Tensor
    entropies: torch.Tensor
    hidden: torch.Tensor

    @property
    def returns(self) -> torch.Tensor:
        """Σ_t r_t of each trial ``[R]``."""
        return self.rewards.sum(-1)


def rl2_rollout(agent: RL2Agent, task_family: FiniteTaskFamily, tasks, num_episodes: int,
                generator: torch.Generator | None = None, greedy: bool = False) -> RL2Trials:
    r"""Run one trial of ``num_episodes`` episodes in each of the tasks ``[R]`` (indices), all R at once:
    the state returns to s_1 ~ p(s_1) after every T steps, the hidden state carries on (module docstring).
    With ``greedy`` the agent takes its most probable action. Keeps the graph (for training); wrap in
    ``torch.no_grad()`` to evaluate."""
    family = _check_agent_and_family(agent, task_family)
    tasks = FiniteTaskFamily._read_indices(tasks, "tasks", family.num_tasks)
    num_episodes = check_positive_integer(num_episodes, "num_episodes")
    if not isinstance(greedy, bool):
        raise TypeError(f"greedy must be True or False, got {greedy!r}")
    return _rollout(agent, family, tasks, num_episodes, generator, greedy)


def _rollout(agent: RL2Agent, family: FiniteTaskFamily, tasks: torch.Tensor, num_episodes: int,
             generator: torch.Generator | None, greedy: bool = False) -> RL2Trials:
    num_trials = tasks.shape[0]
    T = family.episode_length
    states = family.reset(num_trials, generator)
    actions = torch.full((num_trials,), -1, dtype=torch.long)
    rewards = torch.zeros(num_trials, dtype=torch.float64)
    done = torch.zeros(num_trials, dtype=torch.bool)
    hidden = agent.initial_hidden(num_trials)
    columns = {name: [] for name in ("states", "actions", "rewards", "log_probs", "values", "entropies")}
    hiddens = [hidden]
    for t in range(num_episodes * T):
        logits, values, hidden = agent(hidden, agent.encode(states, actions, rewards, done), states)
        log_policy = torch.log_softmax(logits, -1)
        if greedy:
            actions = logits.argmax(-1)
        else:
            actions = torch.multinomial(log_policy.detach().exp(), 1, generator=generator).squeeze(-1)
        # The indices come from the family and the agent: the validated family.step would re-check them
        # at every step of every iteration.
        next_states, rewards = family._step(tasks, states, actions, generator)
        probs = log_policy.exp()
        columns["states"].append(states)
        columns["actions"].append(actions)
        columns["rewards"].append(rewards)
        columns["log_probs"].append(log_policy.gather(-1, actions[:, None]).squeeze(-1))
        columns["values"].append(values)
        columns["entropies"].append(-(probs * log_policy.masked_fill(probs == 0, 0.0)).sum(-1))
        hiddens.append(hidden)
        episode_over = (t + 1) % T == 0
        done = torch.full((num_trials,), episode_over)
        states = family.reset(num_trials, generator) if episode_over else next_states
    stacked = {name: torch.stack(column, 1) for name, column in columns.items()}
    return RL2Trials(tasks=tasks, hidden=torch.stack(hiddens, 1), **stacked)


def rl2_loss(trials: RL2Trials, entropy_bonus: float = 0.01, value_weight: float = 0.5) -> torch.Tensor:
    r"""The actor-critic loss of one batch of trials, to minimize (module docstring):

        L = −(1/R) Σ_{r,t} [ log π_θ(a_t | h_t) (G_t − V_ψ(h_t)) + β H(π_θ(· | h_t)) ]
            + c (1/R) Σ_{r,t} (G_t − V_ψ(h_t))²

    with G_t the undiscounted reward-to-go to the end of the trial, the advantage held constant in the
    policy term, β = ``entropy_bonus`` and c = ``value_weight``."""
    if not isinstance(trials, RL2Trials):
        raise TypeError(f"trials must be the RL2Trials of rl2_rollout(...), got {type(trials).__name__}")
    entropy_bonus = check_nonnegative(entropy_bonus, "entropy_bonus")
    return _rl2_loss(trials, entropy_bonus, check_nonnegative(value_weight, "value_weight"))


def _rl2_loss(trials: RL2Trials, entropy_bonus: float, value_weight: float) -> torch.Tensor:
    """:func:`rl2_loss` for validated arguments (the training loop's)."""
    to_go = rewards_to_go(trials.rewards).float()
    advantage = to_go - trials.values
    policy_term = (trials.log_probs * advantage.detach() + entropy_bonus * trials.entropies).sum(-1)
    return -policy_term.mean() + value_weight * advantage.pow(2).sum(-1).mean()


@dataclass(frozen=True, eq=False)
class RL2Result:
    r"""What :func:`train_rl2` returns: the trained ``agent``, ``num_episodes`` N per trial, and
    ``mean_returns`` ``[num_iterations]``, the batch mean of Σ_t r_t over each iteration's trials (NumPy)."""

    agent: RL2Agent
    num_episodes: int
    mean_returns: np.ndarray


def train_rl2(task_family: FiniteTaskFamily, num_episodes: int, *, num_iterations: int = 1000,
              num_trials: int = 128, hidden_size: int = 64, lr: float = 3e-3, entropy_bonus: float = 0.01,
              value_weight: float = 0.5, seed: int = 0, progress: bool | None = None) -> RL2Result:
    r"""Train an :class:`RL2Agent` on a finite task family (module docstring): each iteration draws R =
    ``num_trials`` tasks z ~ p(z), runs one trial of ``num_episodes`` episodes in each, and takes one Adam
    step on :func:`rl2_loss`. ``seed`` seeds the network and the simulator (equal seeds, equal results).

    Example:
        >>> from pgm_control.meta import bandit_tasks
        >>> family = bandit_tasks([[0.9, 0.1], [0.1, 0.9]])
        >>> fit = train_rl2(family, num_episodes=4, num_iterations=5, num_trials=8, hidden_size=8)
        >>> fit.mean_returns.shape, evaluate_rl2(fit.agent, family, 4, num_trials=10).returns.shape
        ((5,), torch.Size([10]))
    """
    family = check_family(task_family, finite=True)
    num_episodes = check_positive_integer(num_episodes, "num_episodes")
    num_iterations = check_positive_integer(num_iterations, "num_iterations")
    num_trials = check_positive_integer(num_trials, "num_trials")
    lr = check_learning_rate(lr)
    entropy_bonus = check_nonnegative(entropy_bonus, "entropy_bonus")
    value_weight = check_nonnegative(value_weight, "value_weight")
    seed = check_seed(seed)
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    agent = RL2Agent(family.num_states, family.num_actions, hidden_size, family.tasks[0].available_actions)
    optimizer = torch.optim.Adam(agent.parameters(), lr=lr)
    mean_returns = []
    work = num_iterations * num_trials * num_episodes * family.episode_length * hidden_size
    with progress_bar(num_iterations, progress, work, "RL²") as bar:
        for _ in range(num_iterations):
            trials = _rollout(agent, family, family.sample(num_trials, generator), num_episodes, generator)
            optimizer.zero_grad()
            _rl2_loss(trials, entropy_bonus, value_weight).backward()
            optimizer.step()
            mean_returns.append(float(trials.returns.mean()))
            bar.update()
    return RL2Result(agent=agent, num_episodes=num_episodes, mean_returns=np.array(mean_returns))


@dataclass(frozen=True, eq=False)
class TrialReturns:
    r"""Returns of R evaluation trials: ``returns`` ``[R]`` (Σ_t r_t over the N episodes of each trial),
    their ``mean`` and its standard error ``stderr`` = std / √R."""

    returns: torch.Tensor

    @property
    def mean(self) -> float:
        return float(self.returns.mean())

    @property
    def stderr(self) -> float:
        return float(self.returns.std() / math.sqrt(self.returns.numel())) if self.returns.numel() > 1 else math.nan


def evaluate_rl2(agent: RL2Agent, task_family: FiniteTaskFamily, num_episodes: int, *, num_trials: int = 1000,
                 greedy: bool = False, seed: int = 0) -> TrialReturns:
    """The return per trial of ``agent`` over ``num_trials`` fresh tasks z ~ p(z), ``num_episodes``
    episodes each (no gradient; sampled actions, or the most probable with ``greedy``)."""
    family = _check_agent_and_family(agent, task_family)
    num_episodes = check_positive_integer(num_episodes, "num_episodes")
    num_trials = check_positive_integer(num_trials, "num_trials")
    if not isinstance(greedy, bool):
        raise TypeError(f"greedy must be True or False, got {greedy!r}")
    generator = torch.Generator().manual_seed(check_seed(seed))
    with torch.no_grad():
        trials = _rollout(agent, family, family.sample(num_trials, generator), num_episodes, generator, greedy)
    return TrialReturns(trials.returns)


def _check_agent_and_family(agent, task_family) -> FiniteTaskFamily:
    if not isinstance(agent, RL2Agent):
        raise TypeError(f"agent must be an RL2Agent (train_rl2(...).agent), got {type(agent).__name__}")
    family = check_family(task_family, finite=True)
    if (family.num_states, family.num_actions) != (agent.num_states, agent.num_actions):
        raise ValueError(f"task_family has S={family.num_states} states and A={family.num_actions} actions, "
                         f"the agent was built for S={agent.num_states}, A={agent.num_actions}")
    return family

