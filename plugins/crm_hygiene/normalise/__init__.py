"""Normalisers: turn one messy input value into its canonical form.

Each function takes plain values and returns plain values, so the same code
serves ingest, rectification requests and the tests.
"""
