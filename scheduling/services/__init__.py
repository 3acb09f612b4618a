"""Every change to appointments and slots, one module per area; import from here."""

from .appointments import RespondResult, Response, appointment_respond
from .matching import (
    BatchOutcome,
    BatchPlan,
    MatchOutcome,
    ReleaseOutcome,
    RematchOutcome,
    SlotUnavailable,
    appointment_propose,
    proposal_expire,
    referral_match,
    referral_rematch,
    referral_request_match,
    referrals_plan_batch,
    referrals_propose_batch,
)
from .slots import SlotsSummary, public_holiday_dates, slots_materialise, slots_preview

__all__ = [
    "BatchOutcome",
    "BatchPlan",
    "MatchOutcome",
    "ReleaseOutcome",
    "RematchOutcome",
    "RespondResult",
    "Response",
    "SlotUnavailable",
    "SlotsSummary",
    "appointment_propose",
    "appointment_respond",
    "proposal_expire",
    "public_holiday_dates",
    "referral_match",
    "referral_rematch",
    "referral_request_match",
    "referrals_plan_batch",
    "referrals_propose_batch",
    "slots_materialise",
    "slots_preview",
]
