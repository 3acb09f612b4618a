"""Privacy and security: encryption at rest, the audit log, retention, and keeping personal data
out of logs, task messages and error reports.

crypto, fields, redaction and task_guard import no app models, so every app may use them;
the audit and retention services compose across apps like any outer-layer code.
"""
