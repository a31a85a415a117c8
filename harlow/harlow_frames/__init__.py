"""The frame-level Harlow task: the agent sees every frame and moves its own gaze.

``env`` builds the environments from a config (``FrameHarlowEnv`` on the simulator or
DeepMind Lab, over worker processes, with the spawn-yaw curriculum); ``records`` turns
steps into per-trial records and the report's numbers; ``evaluation`` plays a frozen
agent and writes the report; ``plots`` draws the gaze, stages and seeds figures;
``task`` fills the task's slots.
"""
