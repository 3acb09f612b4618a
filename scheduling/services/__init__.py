"""Every change to appointments and slots, one module per area; import from here."""

from .appointments import RespondResult, Response, appointment_respond
from .slots import SlotsSummary, public_holiday_dates, slots_materialise, slots_preview

__all__ = [
    "RespondResult",
    "Response",
    "SlotsSummary",
    "appointment_respond",
    "public_holiday_dates",
    "slots_materialise",
    "slots_preview",
]
