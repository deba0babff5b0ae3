"""Fault-injection helpers: run one pipeline step in a process we can kill, and
compare what it leaves behind (see run_step.py and canonical.py)."""
