"""Send the failure alert (crm_airflow.alerts) to a person: every task's ``on_failure_callback``.

Airflow calls it once a task has failed for good (not when it is up for a
retry), after the failed state is recorded, so an alert that cannot be sent
never changes the task's outcome; it is logged by its error's type only (an SMTP
error can quote addresses, a webhook's URL can hold a token).

Configured from the environment only:

* ``CRM_ALERT_EMAIL_TO``: comma-separated addresses, sent through the Airflow
  connection ``smtp_default`` (``AIRFLOW_CONN_SMTP_DEFAULT``) with the SMTP
  provider's hook; the sender is the connection's ``from_email`` extra.
* ``CRM_ALERT_WEBHOOK_URL``: a JSON POST (``{"text": ..., "alert": {...}}``).
* ``AIRFLOW__API__BASE_URL``: the UI's address, for a link to the task's log.

With neither recipient set, one log line says so and nothing is attempted.
"""

from __future__ import annotations

import html
import json
import logging
import os
import urllib.request
from collections.abc import Mapping
from typing import Any

from crm_airflow.alerts import FailureAlert, failure_alert, reason_from_exception, task_log_url

log = logging.getLogger(__name__)

EMAIL_TO_VARIABLE = "CRM_ALERT_EMAIL_TO"
WEBHOOK_VARIABLE = "CRM_ALERT_WEBHOOK_URL"
SMTP_CONN_ID = "smtp_default"
WEBHOOK_TIMEOUT_S = 10


def email_recipients(environ: Mapping[str, str] = os.environ) -> list[str]:
    return [a.strip() for a in environ.get(EMAIL_TO_VARIABLE, "").split(",") if a.strip()]


def webhook_url(environ: Mapping[str, str] = os.environ) -> str | None:
    return environ.get(WEBHOOK_VARIABLE, "").strip() or None


def why_not_retried(exc: BaseException | str | None, try_number: int, max_tries: int) -> str:
    """Which of the three ways to fail for good this was, and what to do about it."""
    from crm_airflow.retry_policy import class_names, decide

    if isinstance(exc, BaseException):
        if any(name.endswith(".AirflowFailException") for name in class_names(exc)):
            return "the task itself said no retry can help; the reason says what is wrong"
        decision = decide(exc, try_number)
        if decision.action.value == "fail":
            return f"the CRM retry policy: {decision.reason}"
    if try_number > max_tries:
        return f"all {max_tries} retries were used"
    return "Airflow marked the task failed (see the task log)"


def build_alert(context: Mapping[str, Any]) -> FailureAlert:
    """The alert for the failed task instance in an Airflow task ``context``."""
    from airflow.sdk.configuration import conf

    ti = context["ti"]
    exc = context.get("exception")
    try_number, max_tries = int(ti.try_number or 1), int(getattr(ti, "max_tries", 0) or 0)
    map_index = getattr(ti, "map_index", -1)
    map_index = -1 if map_index is None else map_index
    logical_date = context.get("logical_date")
    base_url = conf.get("api", "base_url", fallback=None)
    return failure_alert(
        dag_id=ti.dag_id, task_id=ti.task_id, run_id=ti.run_id, logical_date=logical_date,
        try_number=try_number, max_tries=max_tries, reason=reason_from_exception(exc),
        why_not_retried=why_not_retried(exc, try_number, max_tries),
        log_url=task_log_url(base_url, ti.dag_id, ti.run_id, ti.task_id, try_number, map_index),
        map_index=map_index,
    )


def send_email(alert: FailureAlert, recipients: list[str]) -> None:
    """Through the SMTP provider's hook, not its SmtpNotifier: the notifier renders
    subject and body as Jinja templates, and a reason is text, not a template."""
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    with SmtpHook(smtp_conn_id=SMTP_CONN_ID) as smtp:
        smtp.send_email_smtp(to=recipients, subject=alert.subject,
                             html_content=f"<pre>{html.escape(alert.body, quote=False)}</pre>")


def send_webhook(alert: FailureAlert, url: str) -> None:
    if not url.lower().startswith(("https://", "http://")):
        raise ValueError(f"{WEBHOOK_VARIABLE} must be an http(s) URL")
    request = urllib.request.Request(url, data=json.dumps(alert.as_json_payload()).encode("utf-8"),
                                     headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_S) as response:  # noqa: S310 - http(s) only, checked above
        response.read()


def notify_failure(context: Mapping[str, Any]) -> None:
    """``on_failure_callback`` of every CRM task (crm_airflow.dag_defaults.DEFAULT_ARGS)."""
    recipients, url = email_recipients(), webhook_url()
    if not recipients and not url:
        log.info("failure alerts are not configured (set %s and/or %s): none sent",
                 EMAIL_TO_VARIABLE, WEBHOOK_VARIABLE)
        return
    try:
        alert = build_alert(context)
    except Exception as exc:  # noqa: BLE001 - an alert must never hide the task's own failure
        log.error("failure alert not built: %s", type(exc).__name__)
        return
    if recipients:
        _send("email", lambda: send_email(alert, recipients), f"the {SMTP_CONN_ID} connection and {EMAIL_TO_VARIABLE}")
    if url:
        _send("webhook", lambda: send_webhook(alert, url), WEBHOOK_VARIABLE)


def _send(channel: str, send, what_to_check: str) -> None:
    try:
        send()
    except Exception as exc:  # noqa: BLE001 - the same: log the type, keep the task's failure as it is
        log.error("failure alert by %s not sent: %s (check %s)", channel, type(exc).__name__, what_to_check)
    else:
        log.info("failure alert sent by %s", channel)
