"""The code under fuzzing, reached through one name each, so the hypothesis
properties and the atheris targets follow it when it moves."""

from __future__ import annotations

from crm_hygiene.subject_requests import _parse_row


def parse_request_row(row: dict[str, str]):
    """(request or None, reason codes) for one request row."""
    return _parse_row(row)
