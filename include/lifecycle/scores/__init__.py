"""Customer scores: RFM in 27 named segments, churn probability and LTV, with a model registry.

* :mod:`~lifecycle.scores.config`: the settings in ``include/config/scores.yaml``;
* :mod:`~lifecycle.scores.rfm`, :mod:`~lifecycle.scores.features`: what the warehouse computes (SQL in
  ``include/sql/scores/``);
* :mod:`~lifecycle.scores.churn`, :mod:`~lifecycle.scores.ltv`: the two models;
* :mod:`~lifecycle.scores.gate`, :mod:`~lifecycle.scores.registry`: promotion rule and ``crm.model_registry``;
* :mod:`~lifecycle.scores.training`, :mod:`~lifecycle.scores.scoring`: the weekly and daily jobs the DAGs run;
* :mod:`~lifecycle.scores.report`: a plain-text summary (``python -m lifecycle.scores report``).
"""
