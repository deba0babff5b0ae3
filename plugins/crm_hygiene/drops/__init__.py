"""The one home for inbox drops, below every feature that reads them.

Every kind of drop (prospect lists, suppression lists, data-subject requests,
review decisions, and the applicants and legal holds to come) goes through
this layer: fingerprint, read, gate, quarantine, register, archive or reject,
with the shared cell parsers. Features use it and never reach into each
other's modules; this package imports no feature.
"""
