"""Retention: what is past its period is deleted or anonymised, unless a legal hold names it.

The policy file's ``retention`` section says, per class, the clock, the period
and the action; ``sweep.run_retention_sweep`` carries it out as of the run's
logical date, one class at a time, each in one transaction, and leaves the
evidence in ``audit_log`` and ``reports/retention_<date>.json``.
"""
