"""The complete state of an off-policy agent, for tests that save, load and resume it bit for bit."""

import torch


def state_tensors(agent):
    """Every number that determines the agent's future: parameters, optimizer states, generators, D."""
    tensors = {f"{m}.{k}": v for m, module in agent.modules().items() for k, v in module.state_dict().items()}
    for name, optimizer in agent.optimizers().items():
        for i, state in optimizer.state_dict()["state"].items():
            tensors.update({f"{name}.{i}.{k}": v for k, v in state.items()})
    tensors["generator"] = agent.generator.get_state()
    tensors.update({f"replay.{k}": v for k, v in agent.buffer.state_dict().items() if torch.is_tensor(v)})
    return tensors


def assert_same_state(a, b):
    ta, tb = state_tensors(a), state_tensors(b)
    assert ta.keys() == tb.keys()
    for key in ta:
        assert torch.equal(ta[key], tb[key]), key
    assert a.step == b.step and a.history == b.history
