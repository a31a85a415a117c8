"""The Harlow task for the trainer: environments from configs, evaluation, reports.

Modules: ``env`` (trial-level environments, optionally in worker processes),
``analysis`` (accuracy per trial with intervals), ``plots``, ``evaluation``.
"""
