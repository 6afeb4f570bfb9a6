r"""Train ``imitation``'s GAIL or AIRL on saved demonstrations; a helper of bench_adversarial_irl.py.

    benchmarks/.venv-imitation/bin/python benchmarks/_imitation_adversarial.py IN.json OUT.json

It runs in the imitation venv (``benchmarks/.venv-imitation``), so it must not import pgm_control.
IN.json names the run (``method`` "gail" or "airl", ``env_id``, ``seed``, ``steps``, ``demos``: an
``.npz`` of ``observations``, ``actions``, ``next_observations``, ``episode_ends``, read with
``allow_pickle=False``; ``disc_every``, ``disc_steps``, ``eval_episodes``, ``eval_seed``, ``threads``)
and the generator's hyperparameters in pgm_control's ``SACConfig`` names (mapped onto SB3's SAC by
``_sb3_sac.build_sac``).

The trainer is imitation's ``GAIL`` (reward net ``BasicRewardNet``) or ``AIRL`` (``BasicShapedRewardNet``:
g(s, a) + γ h(s') − h(s)), both with a ``RunningNorm`` input layer as in imitation's own examples,
and SB3's SAC as the generator: ``gen_train_timesteps = disc_every`` environment steps per round, then
``n_disc_updates_per_round = disc_steps`` discriminator steps on ``demo_batch_size = batch_size``
demonstrated and as many generated transitions, for ``steps`` environment steps in all. A
demonstration's ``dones`` is True at its episode's last step, as imitation's own
``rollout.flatten_trajectories`` marks it.

Evaluation is bench_sac.py's protocol (``_sb3_sac.evaluate``): ``eval_episodes`` deterministic
episodes, episode i reset with ``eval_seed + i``, on the environment's true reward. Wall time: from
before the generator is built to the end of ``train``. Writes OUT.json (returns, seconds, versions).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import gymnasium
import imitation
import numpy as np
import stable_baselines3
import torch
from _sb3_sac import build_sac, evaluate, read_run
from imitation.algorithms.adversarial.airl import AIRL
from imitation.algorithms.adversarial.gail import GAIL
from imitation.data.types import Transitions
from imitation.rewards.reward_nets import BasicRewardNet, BasicShapedRewardNet
from imitation.util.networks import RunningNorm
from stable_baselines3.common.vec_env import DummyVecEnv

TRAINERS = {"gail": (GAIL, BasicRewardNet), "airl": (AIRL, BasicShapedRewardNet)}


def load_demonstrations(path: str) -> Transitions:
    """The demonstrations of ``path`` (.npz, no pickle) as imitation's ``Transitions``."""
    with np.load(path, allow_pickle=False) as data:
        observations = data["observations"].astype(np.float32)
        return Transitions(obs=observations, acts=data["actions"].astype(np.float32),
                           infos=np.array([{}] * len(observations)),
                           next_obs=data["next_observations"].astype(np.float32),
                           dones=data["episode_ends"].astype(bool))


def train(run: dict) -> dict:
    """Build and train the trainer of ``run``; the wall time and the trained generator."""
    trainer_class, net_class = TRAINERS[run["method"]]
    venv = DummyVecEnv([lambda: gymnasium.make(run["env_id"])])
    venv.seed(run["seed"])
    start = time.perf_counter()
    generator = build_sac(venv, run)
    reward_net = net_class(venv.observation_space, venv.action_space, normalize_input_layer=RunningNorm)
    trainer = trainer_class(demonstrations=load_demonstrations(run["demos"]), demo_batch_size=run["batch_size"],
                            venv=venv, gen_algo=generator, reward_net=reward_net,
                            gen_train_timesteps=run["disc_every"], gen_replay_buffer_capacity=run["disc_every"],
                            n_disc_updates_per_round=run["disc_steps"], allow_variable_horizon=False)
    trainer.train(run["steps"])
    return {"seconds": time.perf_counter() - start, "steps": int(generator.num_timesteps), "model": generator}


def main(argv: list[str]) -> int:
    run = read_run(argv, __doc__)
    if run is None:
        return 2
    torch.manual_seed(run["seed"])
    out = train(run)
    returns = evaluate(out["model"], gymnasium.make(run["env_id"]), run["eval_episodes"], run["eval_seed"])
    Path(argv[1]).write_text(json.dumps({
        "seconds": out["seconds"], "steps": out["steps"], "returns": returns.tolist(),
        "versions": {"imitation": imitation.__version__, "stable_baselines3": stable_baselines3.__version__,
                     "torch": torch.__version__, "gymnasium": gymnasium.__version__},
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
