"""The Harlow task for the trainer: environments from configs, evaluation, reports.

Modules, in the order data flows: ``task`` (the slots the generic layers ask for:
config checks, environments, observation spec, model fields, evaluation, reports),
``env`` (trial-level environments, optionally in worker processes), ``evaluation``
(frozen-weights episodes and their report), ``analysis`` (accuracy per trial with
intervals), ``plots``, ``profile`` (where training time goes).
"""
