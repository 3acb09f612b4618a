"""Clinicians, their availability, concrete slots and appointments."""

import secrets
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from referrals.models import District, Facility, Program, ProviderRole, Referral, State


def new_feed_token() -> str:
    return secrets.token_urlsafe(24)


def new_ical_uid() -> str:
    return f"{uuid.uuid4()}@soundingboard"


class Clinician(models.Model):
    """A coach, senior clinician or counsellor who takes sessions."""

    class Gender(models.TextChoices):
        UNSTATED = "", "Not stated"
        FEMALE = "female", "Woman"
        MALE = "male", "Man"
        NON_BINARY = "non_binary", "Non-binary"

    class RegistrationBody(models.TextChoices):
        NONE = "", "None"
        AHPRA = "AHPRA", "AHPRA"
        AASW = "AASW", "AASW"
        ACA = "ACA", "ACA"
        PACFA = "PACFA", "PACFA"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="clinician"
    )
    display_name = models.CharField(max_length=120)
    roles = models.JSONField(default=list, help_text="Values of ProviderRole.")
    programs = models.ManyToManyField(Program, related_name="clinicians", blank=True)
    districts = models.ManyToManyField(District, related_name="clinicians", blank=True)
    facilities = models.ManyToManyField(Facility, related_name="clinicians", blank=True)
    specialty = models.CharField(max_length=100, blank=True)
    gender = models.CharField(max_length=12, choices=Gender.choices, blank=True)
    offers_phone = models.BooleanField(default=True)
    offers_video = models.BooleanField(default=True)
    video_link = models.URLField(blank=True, help_text="Where video sessions are held.")
    time_zone = models.CharField(max_length=40, default="Australia/Sydney")
    holiday_state = models.CharField(max_length=3, choices=State.choices, default=State.NSW)
    weekly_capacity = models.PositiveSmallIntegerField(default=5)
    calendar_email = models.EmailField()
    registration_body = models.CharField(max_length=8, choices=RegistrationBody.choices, blank=True)
    registration_number = models.CharField(max_length=30, blank=True)
    is_active = models.BooleanField(default=True)
    is_on_duty = models.BooleanField(
        default=False, help_text="On duty for urgent 'talk to someone now' consultations."
    )
    feed_token = models.CharField(max_length=64, unique=True, default=new_feed_token)

    class Meta:
        ordering = ["display_name"]

    def __str__(self) -> str:
        return self.display_name

    def clean(self) -> None:
        unknown = set(self.roles) - set(ProviderRole.values)
        if unknown:
            raise ValidationError({"roles": f"Unknown roles: {', '.join(sorted(unknown))}"})
        if ProviderRole.COUNSELLOR in self.roles and not (
            self.registration_body and self.registration_number
        ):
            raise ValidationError(
                {"registration_number": "Counsellors need a professional registration."}
            )
        if not (self.offers_phone or self.offers_video):
            raise ValidationError("A clinician must offer phone, video or both.")


class AvailabilityRule(models.Model):
    """A weekly recurring window in the clinician's own time zone."""

    class Weekday(models.IntegerChoices):
        MONDAY = 0, "Monday"
        TUESDAY = 1, "Tuesday"
        WEDNESDAY = 2, "Wednesday"
        THURSDAY = 3, "Thursday"
        FRIDAY = 4, "Friday"
        SATURDAY = 5, "Saturday"
        SUNDAY = 6, "Sunday"

    clinician = models.ForeignKey(
        Clinician, on_delete=models.CASCADE, related_name="availability_rules"
    )
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    starts_at_time = models.TimeField()
    ends_at_time = models.TimeField()
    valid_from_on = models.DateField()
    valid_until_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["clinician", "weekday", "starts_at_time"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at_time__gt=models.F("starts_at_time")),
                name="availability_rule_ends_after_it_starts",
            ),
            models.CheckConstraint(
                condition=Q(valid_until_on__isnull=True)
                | Q(valid_until_on__gte=models.F("valid_from_on")),
                name="availability_rule_valid_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.starts_at_time}–{self.ends_at_time}"


class TimeOff(models.Model):
    """Leave or any other time the clinician cannot take sessions."""

    clinician = models.ForeignKey(Clinician, on_delete=models.CASCADE, related_name="time_off")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    note = models.CharField(max_length=120, blank=True)

    class Meta:
        ordering = ["starts_at"]
        verbose_name_plural = "time off"
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")), name="time_off_ends_after_it_starts"
            )
        ]

    def __str__(self) -> str:
        return f"{self.clinician}: {self.starts_at:%Y-%m-%d} – {self.ends_at:%Y-%m-%d}"


class Slot(models.Model):
    """A concrete bookable hour, materialised from availability rules.

    A slot no longer produced by the rules is deleted unless an appointment refers to it; then it
    is kept with is_offered False so history stays intact.
    """

    clinician = models.ForeignKey(Clinician, on_delete=models.CASCADE, related_name="slots")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    is_offered = models.BooleanField(default=True)

    class Meta:
        ordering = ["starts_at"]
        constraints = [
            models.UniqueConstraint(fields=["clinician", "starts_at"], name="slot_unique_start"),
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")), name="slot_ends_after_it_starts"
            ),
        ]
        indexes = [models.Index(fields=["starts_at", "clinician"], name="slot_start_idx")]

    def __str__(self) -> str:
        return f"{self.clinician} {self.starts_at:%Y-%m-%d %H:%M}"


class Modality(models.TextChoices):
    PHONE = "phone", "Phone"
    VIDEO = "video", "Video"


class Appointment(models.Model):
    """One session of an episode, from proposal to completion."""

    class Status(models.TextChoices):
        PROPOSED = "proposed", "Proposed"
        TENTATIVE = "tentative", "Tentatively accepted"
        ACCEPTED = "accepted", "Accepted"
        DECLINED = "declined", "Declined"
        EXPIRED = "expired", "Expired"
        CANCELLED = "cancelled", "Cancelled"
        LATE_CANCELLED = "late_cancelled", "Cancelled late"
        COMPLETED = "completed", "Completed"
        NO_SHOW = "no_show", "Did not attend"

    # Statuses that hold the slot: at most one such appointment per slot.
    LIVE_STATUSES = (Status.PROPOSED, Status.TENTATIVE, Status.ACCEPTED)

    referral = models.ForeignKey(Referral, on_delete=models.PROTECT, related_name="appointments")
    slot = models.ForeignKey(Slot, on_delete=models.PROTECT, related_name="appointments")
    clinician = models.ForeignKey(Clinician, on_delete=models.PROTECT, related_name="appointments")
    session_number = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PROPOSED)
    modality = models.CharField(max_length=8, choices=Modality.choices, default=Modality.PHONE)
    ical_uid = models.CharField(max_length=100, default=new_ical_uid)  # appointment_ical_uid_unique
    ical_sequence = models.PositiveIntegerField(default=0)
    match_explanation = models.JSONField(default=dict, blank=True)
    manual_assignment_reason = models.TextField(blank=True)
    proposed_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    responded_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["slot__starts_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["slot"],
                condition=Q(status__in=["proposed", "tentative", "accepted"]),
                name="one_live_appointment_per_slot",
            ),
            # A constraint rather than unique=True: on PostgreSQL that also made a second,
            # pattern-matching index, which nothing asks for (UIDs are only looked up whole)
            # and every new appointment had to write.
            models.UniqueConstraint(fields=["ical_uid"], name="appointment_ical_uid_unique"),
        ]
        indexes = [models.Index(fields=["status", "expires_at"], name="appointment_expiry_idx")]

    def __str__(self) -> str:
        return f"{self.referral} session {self.session_number} ({self.status})"


class ClinicianWeek(models.Model):
    """How many sessions one clinician's week holds: live ones, and those completed or missed.

    Kept in step by scheduling.services.load (every transition through appointment_transition,
    and every service that creates an appointment or moves one to another slot), and recounted
    by the sweeper. A single match skips full weeks by it, in SQL and in the clinicians'
    profiles; capacity itself is checked against the appointments when the chosen time is
    locked, so a count (or a copied capacity) that drifted can hide a week until the sweeper
    recounts it, never overfill one.
    """

    clinician = models.ForeignKey(Clinician, on_delete=models.CASCADE, related_name="weeks")
    week_start_on = models.DateField(help_text="The Monday, in the clinician's time zone.")
    # That Monday's midnight and the next one, in UTC, so SQL can place a slot in its week.
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    held = models.IntegerField(default=0)
    # The clinician's weekly capacity when the count was last written, rewritten when the
    # capacity changes (and by the sweeper's recount): with `held`, whether the week is full,
    # which a single match asks of every clinician's weeks through the index below. No
    # default: a write that left it out would make the week look full.
    capacity = models.PositiveSmallIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["clinician", "week_start_on"], name="clinician_week_unique"
            )
        ]
        indexes = [
            models.Index(fields=["clinician", "starts_at"], name="clinician_week_start_idx"),
            models.Index(
                fields=["ends_at"],
                condition=models.Q(held__gte=models.F("capacity")),
                name="clinician_week_full_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.clinician_id} week of {self.week_start_on}: {self.held}"


class AppointmentEvent(models.Model):
    """One step in an appointment's history: a transition, with who, when and why."""

    appointment = models.ForeignKey(Appointment, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=16, blank=True)
    to_status = models.CharField(max_length=16)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=60)
    reason = models.CharField(max_length=500, blank=True)
    occurred_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["occurred_at", "pk"]

    def __str__(self) -> str:
        return f"{self.appointment_id}: {self.from_status or '∅'} → {self.to_status}"
