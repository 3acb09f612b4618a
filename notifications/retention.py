"""What the notifications app destroys when a referral is de-identified
(privacy.services.retention).

Kept for statistics: which kinds of message went out, when, and whether they were delivered.
Blanked: every address, subject, body and calendar text of the referral's messages, and the raw
mail and attendee address of the calendar replies about its sessions.
"""

from django.db.models import Q

from .models import InboundMessage, InboundReply, OutboundMessage


def referral_deidentify_messages(*, referral_id: int) -> dict[str, list[int]]:
    """Blank the referral's outgoing messages and the calendar replies about its sessions.

    Returns {model label: [ids]} of the rows changed. Runs inside the caller's transaction.
    """
    messages = OutboundMessage.objects.filter(
        Q(referral_id=referral_id) | Q(appointment__referral_id=referral_id)
    )
    message_ids = list(messages.values_list("pk", flat=True))
    OutboundMessage.objects.filter(pk__in=message_ids).update(
        recipient="", subject="", last_error="", body_text="", body_html="", ical_text=""
    )
    replies = InboundReply.objects.filter(appointment__referral_id=referral_id)
    reply_ids = list(replies.values_list("pk", flat=True))
    replies.update(attendee="")
    inbound_ids = sorted(set(replies.values_list("message_id", flat=True)))
    InboundMessage.objects.filter(pk__in=inbound_ids).update(raw=b"", message_id="")
    return {
        OutboundMessage._meta.label_lower: message_ids,
        InboundReply._meta.label_lower: reply_ids,
        InboundMessage._meta.label_lower: inbound_ids,
    }
