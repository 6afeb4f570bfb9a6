"""Figures for tabular problems: values, policies and state marginals drawn on grid worlds."""

from pgm_control.viz.grid import plot_grid_values, plot_state_marginals, policy_arrows

__all__ = ["plot_grid_values", "plot_state_marginals", "policy_arrows"]
