r"""Tabular Q-learning and soft Q-learning from interaction (Lecture 20, "Max-entropy RL algorithms";
the CS285 notes, "Soft Optimality").

One transition (s, a, r, s') at a time, with the temporal-difference update

    Q(s, a) <- Q(s, a) + η_n(s, a) · (y - Q(s, a))
    y = r + γ (1 - terminated) max_{a'} Q(s', a')                        Q-learning
    y = r + γ (1 - terminated) softmax_{a'} Q(s', a')                    soft Q-learning (CS285 notes)
    softmax_{a'} Q(s', a') = α log Σ_{a'} p(a'|s') exp(Q(s', a')/α),    p(a'|s') = 1/A

The soft maximum is the library's :func:`pgm_control.inference.soft_maximum` (the action prior inside
the log, Lecture 20's log β_t(s) = log E_{a~p(a|s)} β_t(s, a); the per-step loop evaluates the same
formula in Python floats, see ``_soft_maximum_row``), so the fixed point of soft Q-learning is
exactly ``soft_value_iteration(mdp.replace(discount=γ), temperature=α, backup="expected").q`` and
that of Q-learning ``value_iteration(mdp.replace(discount=γ)).q``. The soft target is the expected
(variational) backup, not the optimistic one: a sampled s' estimates E[V(s')], never
log E[exp V(s')].

Step sizes: ``lr=None`` uses η_n(s, a) = 1 / n(s, a)^ω with n(s, a) the visits of (s, a) so far and
ω = :data:`LR_EXPONENT`. For ω in (1/2, 1] the Robbins-Monro conditions Σ η = ∞, Σ η² < ∞ hold and
tabular Q-learning converges when every pair is visited infinitely often (Watkins & Dayan 1992); with
ω = 1 the time to converge can grow exponentially in 1/(1 - γ), with ω in (1/2, 1) only polynomially
(Even-Dar & Mansour 2003, "Learning rates for Q-learning"). A float ``lr`` is a constant step size:
the iterates then keep fluctuating around the fixed point.

Episodes: ``terminated`` (the MDP reached an absorbing state) cuts the bootstrap; ``truncated`` (a time
limit) does not, since the state at the cut still has a future (Pardo et al. 2018). Either one starts a
new episode from ``env.reset()``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import gymnasium
import numpy as np
import torch

from pgm_control._checks import DTYPE, check_discount, check_integer, check_positive_integer, check_real, check_seed
from pgm_control._progress import progress_bar
from pgm_control.envs.gym import TabularEnv
from pgm_control.inference.policies import soft_log_policy
from pgm_control.inference.soft import soft_maximum
from pgm_control.mdp import TabularMDP

# ω of the visit-count step size η_n = 1/n^ω (lr=None). Measured max |Q - Q*| after 100,000 steps
# (γ = 0.9, seeds 0-1): Q-learning on a 3x3 grid with slip 0.2, ε = 0.5: 0.11 (ω = 0.6), 0.04-0.06
# (0.7), 0.03 (0.8); soft Q-learning on a 2x3 grid with slip 0.1, Boltzmann: 0.04-0.05 (0.8),
# 0.03-0.06 (0.9), 0.20 (1.0, the plain running average).
LR_EXPONENT = 0.8
# Episode length (truncation) when a TabularMDP is given without a horizon.
DEFAULT_HORIZON = 100
EXPLORATIONS = ("epsilon", "boltzmann")
# progress=None shows a bar only for runs of at least this many steps (tens of seconds).
_AUTO_PROGRESS_STEPS = 500_000
_BAR_CHUNK = 1000


@dataclass(frozen=True, eq=False)
class TabularQResult:
    r"""What :func:`q_learning` and :func:`soft_q_learning` return.

    ``episode_returns``, a log of the run, is a NumPy array (``np.mean(result.episode_returns[-100:])``);
    the tables are torch tensors: call ``.numpy()`` for NumPy (its reductions, ``np.mean``, ``np.max``,
    ..., do not accept tensors).

    Attributes:
        q: the learned Q(s, a) ``[S, A]`` (float64).
        temperature: α of the policy read from ``q``: 0 for Q-learning (greedy), the soft
            Q-learning temperature otherwise.
        episode_returns: the undiscounted return Σ_t r_t of each finished episode ``[E]`` (a float64
            NumPy array; a last, unfinished episode is left out).
        visits: n(s, a), the number of updates of each pair ``[S, A]`` (int64).
        num_steps: the number of environment steps taken.
        available_actions: A(s) as a bool mask ``[S, A]``, read from the environment's
            ``info["action_mask"]`` (all True when the environment gives none; None: all available);
            Q(s, a) = -inf for the actions outside A(s), which the learner never takes.
    """

    q: torch.Tensor
    temperature: float
    episode_returns: np.ndarray
    visits: torch.Tensor
    num_steps: int
    available_actions: torch.Tensor | None = None

    @property
    def log_prior(self) -> torch.Tensor:
        r"""log p(a|s) ``[S, A]``: uniform over the available actions A(s)."""
        if self.available_actions is None:
            return torch.full(self.q.shape, -math.log(self.q.shape[-1]), dtype=DTYPE)
        available = self.available_actions.to(DTYPE)
        return torch.log(available / available.sum(-1, keepdim=True))

    @property
    def v(self) -> torch.Tensor:
        r"""V(s) = max_{a ∈ A(s)} Q(s, a) (α = 0) or α log Σ_{a ∈ A(s)} p(a|s) exp(Q(s, a)/α), with
        p(a|s) = 1/|A(s)|; ``[S]``."""
        return soft_maximum(self.q, self.log_prior, self.temperature)

    @property
    def policy(self) -> torch.Tensor:
        r"""π(a|s) ``[S, A]``: one-hot on argmax_a Q(s, a) (the lowest index on ties) when α = 0,
        else the soft policy π(a|s) = p(a|s) exp((Q(s, a) - V(s))/α) with p(a|s) = 1/|A(s)|."""
        if self.temperature == 0.0:
            return torch.nn.functional.one_hot(self.q.argmax(-1), self.q.shape[-1]).to(DTYPE)
        return soft_log_policy(self.q, self.log_prior, self.temperature).exp()


# ---------------------------------------------------------------------------------------- the math
def q_learning_target(reward, q_next: torch.Tensor, terminated, discount: float) -> torch.Tensor:
    r"""y = r + γ (1 - terminated) max_{a'} Q(s', a'); q_next ``[..., A]``, reward and terminated
    ``[...]`` (or scalars) -> ``[...]``."""
    return reward + discount * (1.0 - torch.as_tensor(terminated, dtype=DTYPE)) * q_next.max(-1).values


def soft_q_learning_target(reward, q_next: torch.Tensor, terminated, discount: float,
                           temperature: float) -> torch.Tensor:
    r"""y = r + γ (1 - terminated) softmax_{a'} Q(s', a') (CS285 notes, "Soft Optimality"), with
    softmax_{a'} Q = α log Σ_{a'} (1/A) exp(Q(s', a')/α); q_next ``[..., A]`` -> ``[...]``."""
    v_next = soft_maximum(q_next, -math.log(q_next.shape[-1]), temperature)
    return reward + discount * (1.0 - torch.as_tensor(terminated, dtype=DTYPE)) * v_next


def exploration_policy(q: torch.Tensor, exploration: str, *, epsilon: float = 0.1,
                       temperature: float = 1.0) -> torch.Tensor:
    r"""The behaviour policy b(a|s) ``[..., A]`` of a Q table ``[..., A]``:

        "epsilon":    b(a|s) = ε/A + (1 - ε) 1[a = argmax_{a'} Q(s, a')]   (lowest index on ties)
        "boltzmann":  b(a|s) = exp(Q(s, a)/α) / Σ_{a'} exp(Q(s, a')/α),     α = temperature

    The training loops sample from exactly these probabilities (inlined there for speed).
    """
    if exploration == "epsilon":
        A = q.shape[-1]
        greedy = torch.nn.functional.one_hot(q.argmax(-1), A).to(DTYPE)
        return epsilon / A + (1.0 - epsilon) * greedy
    if exploration == "boltzmann":
        return torch.softmax(q.to(DTYPE) / temperature, dim=-1)
    raise ValueError(f"exploration must be one of {EXPLORATIONS}, got {exploration!r}")


def visit_count_lr(visits: int, exponent: float = LR_EXPONENT) -> float:
    """η_n = 1 / n^ω for the n-th update of a pair (n >= 1)."""
    return visits ** -exponent


# ---------------------------------------------------------------------------------------- drivers
def q_learning(env, num_steps: int, *, discount: float = 0.99, lr: float | None = None,
               exploration: str = "epsilon", epsilon: float = 0.1, temperature: float = 1.0,
               seed: int = 0, horizon: int | None = None, progress: bool | None = None) -> TabularQResult:
    r"""Tabular Q-learning (Watkins 1989; Lecture 20, "Classical Q-learning"):

        Q(s, a) <- Q(s, a) + η · (r + γ (1 - terminated) max_{a'} Q(s', a') - Q(s, a))

    It converges to Q* = ``value_iteration(mdp.replace(discount=γ)).q`` for any behaviour policy that
    keeps visiting every pair, with ``lr=None`` (η = 1/n(s, a)^ω, see the module docstring).
    Bootstraps through ``truncated`` (a time limit is not the end of the MDP), not ``terminated``.

    Args:
        env: a ``gymnasium.Env`` with ``Discrete`` observation and action spaces, or a
            :class:`~pgm_control.TabularMDP` (simulated by :class:`~pgm_control.envs.TabularEnv`, reset
            from its ``initial`` distribution; the MDP's own ``discount`` is not used).
        num_steps: environment steps (= updates).
        discount: γ in [0, 1].
        lr: None for η = 1/n(s, a)^ω (ω = :data:`LR_EXPONENT`), or a constant in (0, 1].
        exploration: ``"epsilon"`` (ε-greedy on Q) or ``"boltzmann"`` (b ∝ exp(Q/temperature)); see
            :func:`exploration_policy`.
        epsilon: ε in [0, 1] of ε-greedy.
        temperature: α > 0 of Boltzmann exploration (unused by ε-greedy).
        seed: seeds ``env.reset`` and the action sampler; equal seeds give equal results.
        horizon: episode length (truncation) when ``env`` is a TabularMDP; default
            :data:`DEFAULT_HORIZON`. For a gymnasium env use ``gymnasium.wrappers.TimeLimit``.
        progress: a tqdm bar (None: only for runs of 500,000 steps or more).

    Returns:
        :class:`TabularQResult` with ``q`` ``[S, A]``, the greedy ``policy``, ``episode_returns``.

    Example:
        >>> from pgm_control.envs import GridWorld
        >>> from pgm_control.inference import value_iteration
        >>> world = GridWorld([".G"], step_reward=-1.0, goal_reward=0.0)   # 2 cells, goal on the right
        >>> result = q_learning(world, 2000, discount=0.9, epsilon=0.5, horizon=10)
        >>> exact = value_iteration(world.replace(discount=0.9)).q
        >>> bool((result.q - exact).abs().max() < 0.01), result.policy[0].tolist()   # E is action 2
        (True, [0.0, 0.0, 1.0, 0.0])
    """
    checked = _check_arguments("q_learning", env, num_steps, discount, lr, exploration, epsilon,
                               temperature, seed, horizon)
    return _run(*checked, soft_temperature=0.0, exploration=exploration, epsilon=epsilon,
                exploration_temperature=temperature, seed=seed, progress=progress, desc="Q-learning")


def soft_q_learning(env, num_steps: int, *, temperature: float = 1.0, discount: float = 0.99,
                    lr: float | None = None, exploration: str = "boltzmann", epsilon: float = 0.1,
                    seed: int = 0, horizon: int | None = None, initial_q: torch.Tensor | None = None,
                    progress: bool | None = None) -> TabularQResult:
    r"""Tabular soft Q-learning (CS285 notes, "Soft Optimality": y_j = r_j + γ softmax_{a'_j} Q(s'_j, a'_j)):

        Q(s, a) <- Q(s, a) + η · (r + γ (1 - terminated) softmax_{a'} Q(s', a') - Q(s, a))
        softmax_{a'} Q(s', a') = α log Σ_{a'} (1/A) exp(Q(s', a')/α)        (soft_maximum)

    Its fixed point is the soft Q of the max-ent objective Σ_t γ^t E[r - α KL(π(·|s_t) || 1/A)],
    ``soft_value_iteration(mdp.replace(discount=γ), temperature=α, backup="expected").q``; the soft
    policy π(a|s) = exp((Q(s, a) - V(s))/α)/A is the default behaviour (``"boltzmann"`` at the same
    α), but any behaviour that visits every pair works (the update is off-policy). Bootstraps through
    ``truncated``, not ``terminated``. Arguments as in :func:`q_learning`; ``temperature`` is α of both
    the target and Boltzmann exploration; ``initial_q`` ``[S, A]`` (no NaN or +inf; -inf marks actions
    outside A(s); None: zeros) warm-starts the table, e.g. from a previous run's ``q`` on a slowly changing reward.

    Returns:
        :class:`TabularQResult` with ``q`` ``[S, A]``, the soft ``policy`` and ``temperature`` α.

    Example:
        >>> from pgm_control.envs import GridWorld
        >>> from pgm_control.inference import soft_value_iteration
        >>> world = GridWorld([".G"], step_reward=-1.0, goal_reward=0.0)
        >>> result = soft_q_learning(world, 2000, temperature=0.5, discount=0.9, horizon=10)
        >>> exact = soft_value_iteration(world.replace(discount=0.9), temperature=0.5).q
        >>> bool((result.q - exact).abs().max() < 0.01)
        True
    """
    checked = _check_arguments("soft_q_learning", env, num_steps, discount, lr, exploration, epsilon,
                               temperature, seed, horizon)
    initial_q = _check_initial_q(initial_q, checked[0])
    return _run(*checked, soft_temperature=float(temperature), exploration=exploration, epsilon=epsilon,
                exploration_temperature=temperature, seed=seed, progress=progress,
                desc="soft Q-learning", initial_q=initial_q)


def _run(env, num_steps: int, discount: float, lr: float | None, *, soft_temperature: float,
         exploration: str, epsilon: float, exploration_temperature: float, seed: int,
         progress: bool | None, desc: str, initial_q: np.ndarray | None = None) -> TabularQResult:
    """The interaction loop (thin driver): act, step, update Q(s, a) toward the target, repeat.

    The table is a NumPy array and each step does a handful of Python-float operations: the targets
    are those of :func:`q_learning_target` / :func:`soft_q_learning_target`, with the soft maximum of
    the one row s' computed by ``_soft_maximum_row`` (the formula of ``soft_maximum``). The table starts
    at ``initial_q`` (copied) or at zeros.
    """
    S, A = env.observation_space.n, env.action_space.n
    obs_start, act_start = int(env.observation_space.start), int(env.action_space.start)
    q_np = np.zeros((S, A)) if initial_q is None else initial_q.copy()
    visits = [[0] * A for _ in range(S)]  # Python ints: n ** -ω on NumPy integers is 10x slower
    available = np.ones((S, A), dtype=bool)
    log_prior = [-math.log(A)] * S  # log 1/|A(s)|
    rng = np.random.default_rng(seed)
    returns, episode_return = [], 0.0
    observation, info = env.reset(seed=seed)
    s = int(observation) - obs_start
    _read_action_mask(info, s, available, q_np, log_prior)
    bar_on = progress if progress is not None else num_steps >= _AUTO_PROGRESS_STEPS
    with progress_bar(num_steps, bar_on, 0.0, desc) as bar:
        for step in range(num_steps):
            a = _sample_action(q_np[s], rng, exploration, epsilon, exploration_temperature, A)
            observation, reward, terminated, truncated, info = env.step(a + act_start)
            s_next, reward = int(observation) - obs_start, float(reward)
            _read_action_mask(info, s_next, available, q_np, log_prior)
            if terminated:
                target = reward
            elif soft_temperature == 0.0:
                target = reward + discount * q_np[s_next].max()
            else:
                target = reward + discount * _soft_maximum_row(q_np[s_next].tolist(), soft_temperature,
                                                               log_prior[s_next])
            visits[s][a] += 1
            step_size = visit_count_lr(visits[s][a]) if lr is None else lr
            q_np[s, a] += step_size * (target - q_np[s, a])
            episode_return += reward
            if terminated or truncated:
                returns.append(episode_return)
                episode_return = 0.0
                observation, info = env.reset()
                s_next = int(observation) - obs_start
                _read_action_mask(info, s_next, available, q_np, log_prior)
            s = s_next
            if (step + 1) % _BAR_CHUNK == 0:
                bar.update(_BAR_CHUNK)
        bar.update(num_steps % _BAR_CHUNK)
    return TabularQResult(
        q=torch.from_numpy(q_np.copy()),
        temperature=soft_temperature,
        episode_returns=np.array(returns, dtype=np.float64),
        visits=torch.tensor(visits, dtype=torch.long),
        num_steps=num_steps,
        available_actions=torch.from_numpy(available.copy()),
    )


def _read_action_mask(info, s: int, available: np.ndarray, q_np: np.ndarray, log_prior: list[float]) -> None:
    """Record A(s) from ``info["action_mask"]`` (Gymnasium's convention) the first time s is seen with
    one: Q(s, a) = -inf outside A(s), so maxima, soft maxima and exploration skip those actions."""
    mask = info.get("action_mask") if isinstance(info, dict) else None
    if mask is None or not available[s].all():
        return
    mask = np.asarray(mask, dtype=bool)
    if mask.all():
        return
    available[s] = mask
    q_np[s, ~mask] = -math.inf
    log_prior[s] = -math.log(int(mask.sum()))


def _soft_maximum_row(row: list[float], temperature: float, log_prior: float) -> float:
    r"""α log Σ_a p(a) exp(Q(a)/α) of one state's row, p(a) = exp(log_prior) uniform, in Python floats.

    The formula of :func:`pgm_control.inference.soft_maximum` (tested equal to it): a torch call costs
    about 20 µs of dispatch per row of 4 numbers (over 100 µs on a loaded machine), 10x this whole
    function and more than the rest of a Q-learning step, so the per-step loop uses this twin.
    """
    top = max(row)
    return top + temperature * (math.log(sum(math.exp((value - top) / temperature) for value in row))
                                + log_prior)


def _sample_action(q_row: np.ndarray, rng: np.random.Generator, exploration: str, epsilon: float,
                   temperature: float, num_actions: int) -> int:
    """One draw from :func:`exploration_policy` of one state's row, with NumPy (a few µs)."""
    if exploration == "epsilon":
        if epsilon > 0.0 and rng.random() < epsilon:
            if not np.isfinite(q_row).all():  # Q = -inf: some actions are unavailable here
                return int(rng.choice(np.flatnonzero(q_row > -math.inf)))
            return int(rng.integers(num_actions))
        return int(q_row.argmax())
    row = q_row.tolist()  # A is small: plain floats beat NumPy's per-call overhead
    top = max(row)
    weights = [math.exp((value - top) / temperature) for value in row]
    threshold = rng.random() * sum(weights)
    for action, weight in enumerate(weights):
        threshold -= weight
        if threshold < 0.0:
            return action
    return num_actions - 1


def _check_arguments(name, env, num_steps, discount, lr, exploration, epsilon, temperature, seed, horizon):
    """Validate once, at the boundary; returns (env, num_steps, discount, lr)."""
    env = _as_env(name, env, horizon)
    num_steps = check_positive_integer(num_steps, "num_steps")
    discount = check_discount(discount)
    if lr is not None:
        lr = check_real(lr, "lr", "None (1/n(s,a)^ω) or a number in (0, 1]")
        if not 0.0 < lr <= 1.0:
            raise ValueError(f"lr must lie in (0, 1] (or be None for 1/n(s,a)^{LR_EXPONENT}), got {lr}")
    if exploration not in EXPLORATIONS:
        raise ValueError(f"exploration must be one of {EXPLORATIONS}, got {exploration!r}")
    epsilon = check_real(epsilon, "epsilon", "a probability in [0, 1]")
    if not 0.0 <= epsilon <= 1.0:
        raise ValueError(f"epsilon must lie in [0, 1], got {epsilon}")
    temperature = check_real(temperature, "temperature", "a positive number")
    if not 0.0 < temperature < math.inf:
        hint = "; temperature -> 0 is the hard max of q_learning" if name == "soft_q_learning" else ""
        raise ValueError(f"temperature must be a finite number > 0, got {temperature}{hint}")
    check_seed(seed)
    return env, num_steps, discount, lr


def _check_initial_q(initial_q, env) -> np.ndarray | None:
    """A finite float tensor ``[S, A]`` as a float64 NumPy array (None stays None)."""
    if initial_q is None:
        return None
    S, A = env.observation_space.n, env.action_space.n
    if not isinstance(initial_q, torch.Tensor) or not initial_q.is_floating_point():
        raise TypeError(f"initial_q must be a float tensor [S, A] = [{S}, {A}] or None, got {type(initial_q).__name__}")
    if tuple(initial_q.shape) != (S, A):
        raise ValueError(f"initial_q must have shape [S, A] = [{S}, {A}], got {list(initial_q.shape)}")
    if torch.isnan(initial_q).any() or (initial_q == math.inf).any():
        raise ValueError("initial_q must hold no NaN or +inf (-inf marks an action outside A(s))")
    return initial_q.detach().to(torch.float64).numpy()


def _as_env(name: str, env, horizon):
    """A TabularMDP becomes a TabularEnv; a gymnasium.Env must have Discrete spaces."""
    if isinstance(env, TabularMDP):
        if horizon is not None:
            horizon = check_integer(horizon, "horizon")
            if horizon < 1:
                raise ValueError(f"horizon must be a positive integer, got {horizon}")
        return TabularEnv(env, horizon=DEFAULT_HORIZON if horizon is None else horizon)
    if not isinstance(env, gymnasium.Env):
        raise TypeError(f"env must be a gymnasium.Env or a pgm_control.TabularMDP, got {type(env).__name__}")
    if horizon is not None:
        raise ValueError(
            "horizon applies to a TabularMDP only; limit a gymnasium env's episodes with "
            "gymnasium.wrappers.TimeLimit(env, max_episode_steps=...)"
        )
    spaces = (env.observation_space, env.action_space)
    if not all(isinstance(space, gymnasium.spaces.Discrete) for space in spaces):
        raise TypeError(
            f"{name} needs Discrete observation and action spaces, got {type(spaces[0]).__name__} and "
            f"{type(spaces[1]).__name__}; for Box observations use pgm_control.rl.SoftQ (deep soft "
            "Q-learning with a neural Q-function), or discretize the observations first"
        )
    return env
