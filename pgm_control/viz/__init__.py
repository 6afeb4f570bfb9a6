"""Figures: values, policies and state marginals drawn on grid worlds; a Pyro model drawn as a
graphical model."""

from pgm_control.viz.grid import category_legend, plot_grid_values, plot_state_marginals, policy_arrows
from pgm_control.viz.pgm import draw_pgm, pgm_graph

__all__ = ["category_legend", "draw_pgm", "pgm_graph", "plot_grid_values", "plot_state_marginals", "policy_arrows"]
