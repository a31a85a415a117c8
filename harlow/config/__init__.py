"""Experiment configs: loading a config file (``files``), ``--config.KEY=VALUE`` overrides
(``overrides``), the checks every config passes (``checks``, ``validation``: the task's
own checks come from its folder) and what a resumed run may change (``changes``)."""
