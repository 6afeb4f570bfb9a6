r"""pgm_control: reinforcement learning and control as probabilistic inference, in Pyro and PyTorch.

Conventions (the same in the README):

==================================  ==============================================  =========================
name                                shape                                           meaning
==================================  ==============================================  =========================
``transitions``                     ``[S, A, S']`` or ``next_states``/``probs``      p(s' | s, a)
                                    ``[S, A, K]``
``rewards``                         ``[S, A]`` (r(s) and r(s, a, s') converted)      r(s, a)
``initial``                         ``[S]``                                         p(s_1)
``action_prior``                    ``[S, A]``                                      p(a | s), uniform default
``available_actions``               ``[S, A]`` bool                                 A(s); all by default
``log_beta_sa``, ``log_beta_s``     ``[T, S, A]``, ``[T, S]``                       backward messages
``log_alpha``                       ``[T, S]``                                      α_t(s) = p(s_t | O_{1:t-1})
``q``, ``v``, ``log_policy``        ``[T, S, A]``, ``[T, S]``, ``[T, S, A]``        soft values (no T when
                                                                                    stationary)
trajectories                        states ``[N, T+1]``, actions ``[N, T]``          batch first
==================================  ==============================================  =========================

Code time t = 0..T-1 is the slides' t = 1..T. p(O_t = 1 | s_t, a_t) = exp(r(s_t, a_t)/α) with
temperature α; soft values follow Lecture 20: Q_t = log β_t(s, a), V_t = log β_t(s) =
α log Σ_a p(a|s) exp(Q_t/α), π(a|s) = p(a|s) exp((Q_t - V_t)/α). Everything exact is float64.
"""

from pgm_control.demonstrations import Demonstrations
from pgm_control.mdp import TabularMDP
from pgm_control.sampling import Trajectories, sample_trajectories

__version__ = "0.1.0"

__all__ = ["Demonstrations", "TabularMDP", "Trajectories", "__version__", "sample_trajectories"]
