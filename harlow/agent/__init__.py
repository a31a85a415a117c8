"""The agent: the actor-critic network (``network``: encoders, LSTM, policy and value
heads) and its construction from a config and the task's observation spec
(``builder``)."""
