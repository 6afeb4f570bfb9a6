"""Test configuration.

Hypothesis runs derandomized by default, so CI sees the same examples on every run; set
``HYPOTHESIS_PROFILE=fuzz`` to explore many fresh random examples locally.
"""

import os

import torch
from hypothesis import settings

settings.register_profile("pgm_control", derandomize=True, deadline=None, max_examples=40)
settings.register_profile("fuzz", max_examples=400, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "pgm_control"))

# The test problems are small: on 2 shared cores, torch's intra-op thread barriers cost more than they
# save (an SVI step took 0.13 s with 2 threads against 0.024 s with 1 under load).
torch.set_num_threads(1)
