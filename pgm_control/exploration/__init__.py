"""Exploration (CS285 notes, "Exploration"): bandits, regret, exact Bayesian values."""
