"""The two-step task (Daw et al. 2011) as in Wang et al. 2018, Fig. 5.

Modules, in the order data flows: ``task`` (the slots the generic layers ask for:
config checks, environments, observation spec, evaluation, reports), ``env`` (the
batched environment), ``evaluation`` (frozen-weights episodes and their report),
``analysis`` (stay probabilities, logistic regression), ``plots``.
"""
