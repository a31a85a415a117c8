"""Psychlab Harlow task: the screen-level interface, the built-in simulator and its parts.

Modules (import them directly; this package imports nothing heavy):
  screen_env    -- the ``ScreenEnv`` protocol and the action-format constants
  protocol      -- the level's trial logic (fixation, choice, rewards, timings), vectorised
  render        -- camera geometry and first-person frames of the screen in its room
  simulator     -- ``BatchedHarlowSimulator``: N environments in lockstep
  gym_env       -- ``HarlowGymEnv``, registered with Gymnasium as harlow/PsychlabHarlow-v0
  dmlab         -- the DeepMind Lab adapter (same interface)
  dmlab_workers -- worker processes for environments that cannot be pickled
  worker_main   -- the entry point those worker processes run (imports no TensorFlow)
  saccade       -- ``SaccadeWrapper``: one LEFT/RIGHT decision per trial, driven by vision
  observations  -- what the agent sees of a trial: image ids, grayscale patches or pixels
"""
