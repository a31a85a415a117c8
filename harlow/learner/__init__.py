"""Learning from the environments: acting in batched environments (``rollout``), the A2C
losses and update (``a2c``), acting and learning in one compiled call for tasks written
in TensorFlow (``act_and_learn``) and the training loop with its checkpoints, summaries
and resume (``trainer``)."""
