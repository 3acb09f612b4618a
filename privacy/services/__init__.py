"""Every change the privacy app makes; import from here."""

from .audit import audit_record, audit_record_bulk
from .encryption import encrypted_values_rotate
from .retention import ReferralStillOpen, RetentionNotDue, referral_deidentify

__all__ = [
    "ReferralStillOpen",
    "RetentionNotDue",
    "audit_record",
    "audit_record_bulk",
    "encrypted_values_rotate",
    "referral_deidentify",
]
