"""Every change to appointments and slots, one module per area; import from here."""

from .appointments import RespondResult, Response, appointment_respond

__all__ = ["RespondResult", "Response", "appointment_respond"]
