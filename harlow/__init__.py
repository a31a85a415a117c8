"""harlow: meta-reinforcement learning experiments of Wang et al. (2018)."""
