"""Model-free max-entropy RL algorithms: tabular Q-learning, soft Q-learning, REINFORCE, and deep soft
Q-learning and Soft Actor-Critic."""
