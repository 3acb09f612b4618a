"""Every change to referrals and episodes. Each service is one transaction.

These services save and decide; they send nothing. The caller (a view or task) hands what
changed to notifications and queues matching on commit, because referrals imports neither.
"""

import datetime as dt
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from config.db import insert_unless_taken

from . import limits, triage
from .models import District, Episode, Facility, Program, Referral, ReferralEvent, TriageAssessment
from .references import new_reference_code
from .selectors import episode_appointment_statuses, open_episode_for_update
from .workflow import referral_record_creation, referral_transition

R = Referral.Status

_REFERENCE_ATTEMPTS = 8


@dataclass(frozen=True)
class ReferralDraft:
    """What the person told us, step by step. An urgent referral is saved with only the steps
    answered before the safety questions, so everything after them has a default."""

    program: Program
    collection_notice_version: str
    has_accepted_not_crisis_service: bool
    given_name: str
    family_name: str
    email: str
    preferred_name: str = ""
    phone: str = ""
    contact_method: str = Referral.ContactMethod.EMAIL
    is_voicemail_ok: bool = False
    is_on_behalf: bool = False
    referrer_name: str = ""
    referrer_email: str = ""
    has_person_agreed: bool = False
    career_stage: str = ""
    state: str = ""
    employer_district: District | None = None
    workplace_district: District | None = None
    workplace_facility: Facility | None = None
    specialty: str = ""
    reasons: tuple[str, ...] = ()
    details: str = ""
    modality: str = Referral.Modality.ANY
    clinician_gender: str = Referral.GenderPreference.ANY
    specialty_preference: str = Referral.SpecialtyPreference.ANY
    preferred_windows: tuple[str, ...] = field(default_factory=tuple)
    time_zone: str = "Australia/Sydney"


@transaction.atomic(savepoint=False)
def referral_submit(
    *,
    draft: ReferralDraft,
    safety: triage.SafetyAnswers,
    intake_by: AbstractBaseUser | None = None,
    now: dt.datetime | None = None,
) -> Referral:
    """Save a finished (or, when urgent, cut-short) referral with its triage assessment.

    1. Triage the safety answers with the current rules.
    2. Open or continue the person's episode with the program (found by normalised email).
    3. Decide the status: DIVERTED when urgent; HELD, with the reason, when the episode has no
       session left; otherwise NEW with `match_requested_at` set, so a sweeper can find it.
    4. Save the referral under a fresh reference code, the assessment and the creation event.

    A first referral costs five statements: the episode, the referral, the assessment and the
    event are each one INSERT, and no SAVEPOINT is taken inside the caller's transaction (an
    error here fails the caller's transaction as a whole, which is what the wizard wants).
    Sends nothing and queues nothing: the caller notifies and queues matching in the same
    transaction. Not idempotent: each call is a new referral.
    """
    now = now or timezone.now()
    result = triage.assess(safety)
    episode, is_new_episode = _episode_open_or_continue(program=draft.program, email=draft.email)
    status, hold_reason = _initial_status(
        result.outcome, episode, program=draft.program, is_new_episode=is_new_episode
    )
    referral = _referral_create(
        draft,
        episode=episode,
        status=status,
        priority=result.outcome.value,
        hold_reason=hold_reason,
        intake_by=intake_by,
        now=now,
    )
    TriageAssessment.objects.create(
        referral=referral,
        answers=safety.as_record(),
        k10_score=result.k10_score,
        outcome=result.outcome.value,
        rule_version=result.rule_version,
        rule_fired=result.rule_fired,
    )
    referral_record_creation(
        referral,
        actor=intake_by,
        actor_label="coordinator" if intake_by else "referrer",
        reason=hold_reason or f"triage: {result.rule_fired}",
    )
    return referral


@transaction.atomic
def referral_limit_override(
    *,
    referral_id: int,
    actor: AbstractBaseUser,
    reason: str,
    extra_sessions: int = 1,
    new_limit: int | None = None,
) -> Referral:
    """Change a referral's episode's session limit, for a written reason.

    The limit becomes `new_limit` if given, else the sessions used plus `extra_sessions`. Records
    who did it and why, and releases the referral if it was held over the limit and now has a
    session left (HELD → NEW, ready to match). The reason is kept on the episode and in the
    referral's history. The caller queues matching when the returned referral is NEW.
    """
    reason = reason.strip()
    if not reason:
        raise ValueError("a limit override needs a written reason")
    if extra_sessions < 1:
        raise ValueError("an override adds at least one session")
    referral = Referral.objects.select_for_update().get(pk=referral_id)
    if referral.episode_id is None:
        raise ValueError("this referral has no episode")
    episode = Episode.objects.select_for_update().get(pk=referral.episode_id)
    used = _sessions_used(episode, referral.program)
    if new_limit is not None and new_limit < 1:
        raise ValueError("a session limit is at least 1")
    episode.session_limit = (
        new_limit if new_limit is not None else max(episode.session_limit, used + extra_sessions)
    )
    episode.limit_override_reason = reason
    episode.limit_overridden_by = actor
    episode.save(update_fields=["session_limit", "limit_override_reason", "limit_overridden_by"])
    note = f"Session limit set to {episode.session_limit}: {reason}"
    if referral.status == R.HELD and not limits.is_over_limit(
        used=used, limit=episode.session_limit
    ):
        referral.hold_reason = ""
        referral.match_requested_at = timezone.now()
        referral.save(update_fields=["hold_reason", "match_requested_at", "updated_at"])
        referral_transition(referral, R.NEW, actor=actor, actor_label="coordinator", reason=note)
    else:
        ReferralEvent.objects.create(
            referral=referral,
            from_status=referral.status,
            to_status=referral.status,
            actor=actor,
            actor_label="coordinator",
            reason=note[:500],
        )
    return referral


@transaction.atomic
def referral_deletion_request(*, referral_id: int, now: dt.datetime | None = None) -> Referral:
    """Record that the person asked for their details to be deleted, for a coordinator to
    confirm. The referral must be closed or withdrawn already (the caller withdraws it first).
    Idempotent: asking again keeps the first request's time. Sends nothing."""
    referral = Referral.objects.select_for_update().get(pk=referral_id)
    if referral.status not in (R.CLOSED, R.WITHDRAWN):
        raise ValueError("withdraw or close a referral before its deletion is requested")
    if referral.deletion_requested_at is not None:
        return referral
    referral.deletion_requested_at = now or timezone.now()
    referral.save(update_fields=["deletion_requested_at", "updated_at"])
    ReferralEvent.objects.create(
        referral=referral,
        from_status=referral.status,
        to_status=referral.status,
        actor_label="referrer",
        reason="asked for their details to be deleted",
    )
    return referral


def _episode_open_or_continue(*, program: Program, email: str) -> tuple[Episode, bool]:
    """(the person's open episode with the program, whether this call opened it).

    A new person's episode is one INSERT that does nothing when the person already has one
    open (the partial unique constraint), in which case that one is read and locked. Two
    submissions for the same person at once: the second INSERT waits for the first to commit,
    then does nothing, and the second reads the first's episode."""
    email_normalised = limits.normalise_email(email)
    episode = Episode(
        program=program, email_normalised=email_normalised, session_limit=program.session_limit
    )
    open_one = "(program_id, email_normalised) WHERE closed_at IS NULL"
    if insert_unless_taken([episode], conflict=open_one):
        return episode, True
    return open_episode_for_update(program=program, email_normalised=email_normalised), False


def _sessions_used(episode: Episode, program: Program) -> int:
    return limits.sessions_used(
        episode_appointment_statuses(episode_id=episode.pk),
        late_cancellation_uses_session=program.late_cancellation_uses_session,
    )


def _initial_status(
    outcome: triage.Outcome, episode: Episode, *, program: Program, is_new_episode: bool
) -> tuple[str, str]:
    if outcome == triage.Outcome.URGENT:
        return R.DIVERTED, ""
    used = 0 if is_new_episode else _sessions_used(episode, program)
    if limits.is_over_limit(used=used, limit=episode.session_limit):
        return R.HELD, f"Over the session limit: {used} of {episode.session_limit} sessions used"
    return R.NEW, ""


def _referral_create(
    draft: ReferralDraft,
    *,
    episode: Episode,
    status: str,
    priority: str,
    hold_reason: str,
    intake_by: AbstractBaseUser | None,
    now: dt.datetime,
) -> Referral:
    referral = Referral(
        program=draft.program,
        episode=episode,
        status=status,
        source=_source(draft, intake_by),
        priority=priority,
        intake_by=intake_by,
        given_name=draft.given_name,
        family_name=draft.family_name,
        preferred_name=draft.preferred_name,
        email=draft.email.strip(),
        phone=draft.phone,
        contact_method=draft.contact_method,
        is_voicemail_ok=draft.is_voicemail_ok,
        referrer_name=draft.referrer_name if draft.is_on_behalf else "",
        referrer_email=draft.referrer_email if draft.is_on_behalf else "",
        has_person_agreed=draft.has_person_agreed if draft.is_on_behalf else False,
        career_stage=draft.career_stage,
        state=draft.state,
        employer_district=draft.employer_district,
        workplace_district=draft.workplace_district,
        workplace_facility=draft.workplace_facility,
        specialty=draft.specialty,
        reasons=list(draft.reasons),
        details=draft.details,
        modality=draft.modality,
        clinician_gender=draft.clinician_gender,
        specialty_preference=draft.specialty_preference,
        preferred_windows=list(draft.preferred_windows),
        time_zone=draft.time_zone,
        collection_notice_version=draft.collection_notice_version,
        has_accepted_not_crisis_service=draft.has_accepted_not_crisis_service,
        consented_at=now,
        hold_reason=hold_reason,
        match_requested_at=now if status == R.NEW else None,
    )
    # A clash is rare (19⁶ codes): the INSERT itself finds it, and another code is drawn.
    for _ in range(_REFERENCE_ATTEMPTS):
        referral.reference = new_reference_code(settings.REFERENCE_CODE_LENGTH)
        if insert_unless_taken([referral], conflict="(reference)"):
            return referral
    raise RuntimeError("could not find a free reference code; raise REFERENCE_CODE_LENGTH")


def _source(draft: ReferralDraft, intake_by: AbstractBaseUser | None) -> str:
    if intake_by is not None:
        return Referral.Source.PHONE
    return Referral.Source.ON_BEHALF if draft.is_on_behalf else Referral.Source.SELF
