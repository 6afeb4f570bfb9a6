"""SMPyBandits' UCB1 and Thompson sampling on a Bernoulli bandit, run inside ``benchmarks/.venv-smpybandits``
by ``bench_exploration.py``.

Reads ``{"means", "pulls", "runs", "seed"}`` as JSON on stdin and prints, as the last line of stdout, JSON
``{"version", "agents": {label: {"seconds", "regret", "half_width"}}}``: for each policy the wall time of
all runs and the mean pseudo-regret Reg(T) = T μ* − Σ_t μ_{a_t} over the runs with its 95% half-width
(1.96 SE). Each run is SMPyBandits' own loop (its ``Evaluator`` does the same per repetition):
``startGame()``, then per pull ``choice()``, ``arm.draw(t)``, ``getReward(arm, reward)``.
"""

import json
import math
import sys
import time

import numpy as np
import SMPyBandits
from SMPyBandits.Arms import Bernoulli
from SMPyBandits.Policies import UCB, Thompson

POLICIES = {"UCB1": UCB, "Thompson (Beta)": Thompson}


def play(policy_class, means, pulls, seed):
    """One run: the pseudo-regret after ``pulls`` pulls."""
    np.random.seed(seed)
    arms = [Bernoulli(mean) for mean in means]
    policy = policy_class(len(means))
    policy.startGame()
    regret, best = 0.0, max(means)
    for t in range(pulls):
        arm = policy.choice()
        policy.getReward(arm, arms[arm].draw(t))
        regret += best - means[arm]
    return regret


def main():
    request = json.loads(sys.stdin.read())
    agents = {}
    for label, policy_class in POLICIES.items():
        start = time.perf_counter()
        regrets = [play(policy_class, request["means"], request["pulls"], request["seed"] + run)
                   for run in range(request["runs"])]
        seconds = time.perf_counter() - start
        sd = float(np.std(regrets, ddof=1)) if len(regrets) > 1 else 0.0
        agents[label] = {"seconds": seconds, "regret": float(np.mean(regrets)),
                         "half_width": 1.96 * sd / math.sqrt(len(regrets))}
    print(json.dumps({"version": SMPyBandits.__version__, "agents": agents}))


if __name__ == "__main__":
    main()
