"""Pyro models and guides of control as inference (the optimality model and policy guides arrive with
the Pyro issue; nothing is exported yet)."""
