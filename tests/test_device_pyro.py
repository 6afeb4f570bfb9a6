"""The Pyro models and the IRL fits on the GPU: every tensor on the MDP's device, the same numbers as on
the CPU. Runs only where CUDA is present (CI stays on the CPU)."""

import pyro
import pytest
import torch

from pgm_control import Demonstrations, TabularMDP, sample_trajectories
from pgm_control.envs import random_mdp, terrain_gridworld
from pgm_control.inference import (
    bayesian_irl,
    enumerate_log_evidence,
    feature_matching_irl,
    fit_policy,
    map_trajectory,
    maxent_irl,
    soft_value_iteration,
)
from pgm_control.models import AmortizedPolicyGuide, NeuralReward

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
CUDA = torch.device("cuda")


def on_cuda(mdp: TabularMDP) -> TabularMDP:
    if not hasattr(mdp, "to"):
        pytest.skip("TabularMDP.to(device) is not available")
    return mdp.to(CUDA)


@pytest.mark.parametrize("branching", [None, 3])
def test_enumeration_on_cuda_equals_the_cpu(branching):
    mdp = random_mdp(6, 3, branching=branching, seed=0)
    got = enumerate_log_evidence(on_cuda(mdp), 20)
    assert got.device.type == "cuda"
    assert got.item() == pytest.approx(enumerate_log_evidence(mdp, 20).item(), abs=1e-10)


def test_map_trajectory_on_cuda_equals_the_cpu():
    mdp = random_mdp(5, 3, branching=2, seed=1)
    path = map_trajectory(on_cuda(mdp), 6)
    assert path.states.device.type == "cuda"
    assert path.states.cpu().tolist() == map_trajectory(mdp, 6).states.tolist()


@pytest.mark.parametrize("guide", ["tabular", "amortized"])
def test_fit_policy_keeps_its_parameters_on_cuda(guide):
    mdp = on_cuda(random_mdp(5, 3, branching=2, seed=2))
    pyro.clear_param_store()
    guide = AmortizedPolicyGuide(mdp, 4) if guide == "amortized" else None
    result = fit_policy(mdp, 4, guide=guide, num_steps=3, progress=False)
    assert all(value.device.type == "cuda" for value in pyro.get_param_store().values())
    assert result.policy.device.type == "cuda"


def _irl_problem():
    mdp = terrain_gridworld(size=4, num_terrains=3, seed=0)
    expert = soft_value_iteration(mdp, 6, progress=False)
    batch = sample_trajectories(mdp, expert.policy, 6, 50, generator=torch.Generator().manual_seed(0))
    return mdp, Demonstrations.from_trajectories(batch)


def test_maxent_irl_on_cuda_equals_the_cpu():
    mdp, demos = _irl_problem()
    cpu = maxent_irl(mdp, demos, num_steps=20, progress=False)
    gpu = maxent_irl(on_cuda(mdp), demos, num_steps=20, progress=False)
    assert gpu.reward_table.device.type == "cuda" and gpu.log_likelihood.device.type == "cuda"
    torch.testing.assert_close(gpu.reward_table.cpu(), cpu.reward_table, atol=1e-8, rtol=0)


def test_neural_reward_and_bayesian_and_feature_matching_run_on_cuda():
    mdp, demos = _irl_problem()
    gpu = on_cuda(mdp)
    neural = maxent_irl(gpu, demos, reward=NeuralReward(gpu.features, hidden=(8,)), num_steps=3, progress=False)
    assert neural.reward_table.device.type == "cuda"
    posterior = bayesian_irl(gpu, demos, method="svi", num_steps=5, num_samples=4, progress=False)
    assert posterior.samples.device.type == "cuda" and posterior.reward_mean.device.type == "cuda"
    matched = feature_matching_irl(gpu, demos, max_iter=3, progress=False)
    assert matched.reward_table.device.type == "cuda"
