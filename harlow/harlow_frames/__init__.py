"""The frame-level Harlow task: the agent sees every frame and moves its own gaze.

``env`` builds the environments from a config (``FrameHarlowEnv`` on the simulator or
DeepMind Lab, over worker processes), ``task`` fills the task's slots, ``evaluation``
writes the learning-set report with fixation statistics.
"""
