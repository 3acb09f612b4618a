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

__all__ = [
    "BatchOutcome",
    "BatchPlan",
    "MatchOutcome",
    "ReleaseOutcome",
    "RematchOutcome",
    "RespondResult",
    "Response",
    "SlotUnavailable",
    "appointment_propose",
    "appointment_respond",
    "proposal_expire",
    "referral_match",
    "referral_rematch",
    "referral_request_match",
    "referrals_plan_batch",
    "referrals_propose_batch",
]
