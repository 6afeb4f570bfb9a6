r"""Train stable-baselines3's SAC on one seed and record its learning curve; a helper of bench_sac.py.

    benchmarks/.venv-sb3/bin/python benchmarks/_sb3_sac.py IN.json OUT.json

It runs in its own venv (``benchmarks/.venv-sb3``), so it must not import pgm_control. IN.json holds
the run (``env_id``, ``seed``, ``steps``, ``eval_every``, ``eval_episodes``, ``eval_seed``,
``threads``) and the hyperparameters in pgm_control's ``SACConfig`` names (``hidden``, ``lr``,
``batch_size``, ``buffer_size``, ``discount``, ``tau``, ``learning_starts``, ``train_every``,
``gradient_steps``, ``temperature``), mapped here onto SB3's keywords: ``net_arch``,
``learning_rate``, ``batch_size``, ``buffer_size``, ``gamma``, ``tau``, ``learning_starts``,
``train_freq``, ``gradient_steps``, ``ent_coef="auto_<temperature>"`` (automatic temperature from
that initial value) and ``target_entropy="auto"`` (-dim A).

Evaluation is bench_sac.py's protocol: ``eval_episodes`` episodes in a fresh
``gymnasium.make(env_id)``, episode i reset with seed ``eval_seed + i``, deterministic actions
(``model.predict(obs, deterministic=True)``: the squashed mean), at step 0, every ``eval_every``
steps and at the end. An evaluation at step k runs after the gradient step of environment step k
(from ``on_rollout_start``, which SB3 calls after ``train``), as in pgm_control's ``train``.

Wall time: from before ``SAC(...)`` to the end of ``learn``, less the evaluations. Writes OUT.json
(the curve, the final episode returns, the timings, versions).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import gymnasium
import numpy as np
import stable_baselines3
import torch
from stable_baselines3 import SAC
from stable_baselines3.common.callbacks import BaseCallback


def evaluate(model, env, episodes: int, seed: int) -> np.ndarray:
    """``[episodes]`` returns of the deterministic policy; episode i resets with ``seed + i``."""
    returns = np.zeros(episodes)
    for i in range(episodes):
        observation, _ = env.reset(seed=seed + i)
        while True:
            action, _ = model.predict(observation, deterministic=True)
            observation, reward, terminated, truncated, _ = env.step(action)
            returns[i] += float(reward)
            if terminated or truncated:
                break
    return returns


def build_sac(env, run: dict) -> SAC:
    """SB3's SAC on ``env`` with the hyperparameters of ``run`` (pgm_control's ``SACConfig`` names)."""
    return SAC(
        "MlpPolicy", env,
        policy_kwargs={"net_arch": list(run["hidden"])},
        learning_rate=run["lr"],
        batch_size=run["batch_size"],
        buffer_size=run["buffer_size"],
        gamma=run["discount"],
        tau=run["tau"],
        learning_starts=run["learning_starts"],
        train_freq=run["train_every"],
        gradient_steps=run["gradient_steps"],
        ent_coef=f"auto_{run['temperature']}",
        target_entropy="auto",
        seed=run["seed"],
        device="cpu",
        verbose=0,
    )


class EvaluationCallback(BaseCallback):
    """Evaluates every ``every`` steps, after that step's gradient step; keeps the time it took."""

    def __init__(self, env, every: int, episodes: int, seed: int):
        super().__init__()
        self.eval_env, self.every, self.episodes, self.seed = env, every, episodes, seed
        self.steps, self.means, self.stds = [], [], []
        self.seconds = 0.0
        self.last_returns = None

    def run(self) -> None:
        start = time.perf_counter()
        returns = evaluate(self.model, self.eval_env, self.episodes, self.seed)
        self.seconds += time.perf_counter() - start
        self.steps.append(int(self.model.num_timesteps))
        self.means.append(float(returns.mean()))
        self.stds.append(float(returns.std()))
        self.last_returns = returns

    def _on_rollout_start(self) -> None:
        step = self.model.num_timesteps
        if self.every and step % self.every == 0 and (not self.steps or self.steps[-1] != step):
            self.run()

    def _on_step(self) -> bool:
        return True


def read_run(argv: list[str], usage: str) -> dict | None:
    """The run's settings from ``argv = [IN.json, OUT.json]``, with torch's thread count set from them; None
    (after printing ``usage``) for any other command line."""
    if len(argv) != 2:
        print(usage, file=sys.stderr)
        return None
    run = json.loads(Path(argv[0]).read_text())
    torch.set_num_threads(run["threads"])
    return run


def main(argv: list[str]) -> int:
    run = read_run(argv, __doc__)
    if run is None:
        return 2
    env = gymnasium.make(run["env_id"])
    callback = EvaluationCallback(gymnasium.make(run["env_id"]), run["eval_every"], run["eval_episodes"],
                                  run["eval_seed"])
    start = time.perf_counter()
    model = build_sac(env, run)
    model.learn(total_timesteps=run["steps"], callback=callback, progress_bar=False)
    if not callback.steps or callback.steps[-1] != model.num_timesteps:
        callback.run()  # the final evaluation
    seconds = time.perf_counter() - start - callback.seconds
    Path(argv[1]).write_text(json.dumps({
        "seconds": seconds,
        "eval_seconds": callback.seconds,
        "steps": int(model.num_timesteps),
        "eval_steps": callback.steps,
        "eval_returns": callback.means,
        "eval_stds": callback.stds,
        "final_returns": callback.last_returns.tolist(),
        "temperature": float(torch.exp(model.log_ent_coef.detach())),
        "versions": {"stable_baselines3": stable_baselines3.__version__, "torch": torch.__version__,
                     "gymnasium": gymnasium.__version__, "numpy": np.__version__},
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
