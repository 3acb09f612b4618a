"""Programs, districts, referrals (cases), episodes and triage assessments."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from privacy.fields import EncryptedJSONField, EncryptedTextField


class ProviderRole(models.TextChoices):
    COACH = "coach", "Coach"
    SENIOR_CLINICIAN = "senior_clinician", "Senior clinician"
    COUNSELLOR = "counsellor", "Counsellor"


class State(models.TextChoices):
    NSW = "NSW", "New South Wales"
    VIC = "VIC", "Victoria"
    QLD = "QLD", "Queensland"
    SA = "SA", "South Australia"
    WA = "WA", "Western Australia"
    TAS = "TAS", "Tasmania"
    ACT = "ACT", "Australian Capital Territory"
    NT = "NT", "Northern Territory"


class CareerStage(models.TextChoices):
    MEDICAL_STUDENT = "medical_student", "Medical student"
    INTERN = "intern", "Intern (PGY1)"
    RESIDENT = "resident", "Resident (PGY2+)"
    REGISTRAR = "registrar", "Registrar"
    OTHER_TRAINEE = "other_trainee", "Other doctor in training"
    OTHER_DOCTOR = "other_doctor", "Other doctor"


class Reason(models.TextChoices):
    """What a referral is about, in the services' own words; stored in Referral.reasons."""

    STRESSFUL_INCIDENT = "stressful_incident", "A stressful incident"
    VIOLENCE_OR_TRAUMA = "violence_or_trauma", "Violence or trauma at work"
    BULLYING_OR_HARASSMENT = "bullying_or_harassment", "Bullying or harassment"
    WORKLOAD = "workload", "Workload"
    STRESS_OR_NOT_COPING = "stress_or_not_coping", "Stress, or not coping"
    BURNOUT = "burnout", "Burnout"
    CAREER_PLANS = "career_plans", "Career plans"
    PERSONAL_ISSUES = "personal_issues", "Personal issues"
    WELLBEING = "wellbeing", "Well-being"


class Program(models.Model):
    """A support service a person can refer themselves to, or learn about."""

    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=100)
    short_name = models.CharField(max_length=40)
    # Shown in invitation titles and subjects instead of the name, for discretion.
    discreet_title = models.CharField(max_length=60, default="Sounding Board session")
    description = models.TextField()
    fits_when = models.TextField(blank=True, help_text="The plain-language 'which fits me?' line.")
    provider_role = models.CharField(max_length=20, choices=ProviderRole.choices, blank=True)
    session_minutes = models.PositiveSmallIntegerField(default=60)
    session_limit = models.PositiveSmallIntegerField(
        default=1, help_text="Sessions per episode; coordinators may override with a reason."
    )
    eligibility = models.TextField(help_text="Who may use it, in plain words.")
    eligible_career_stages = models.JSONField(default=list, blank=True)
    is_nsw_health_only = models.BooleanField(default=False)
    hours_of_service = models.CharField(max_length=120, blank=True)
    phone = models.CharField(max_length=20, blank=True)
    website = models.URLField(blank=True)
    is_bookable = models.BooleanField(default=True, help_text="False: information only for now.")
    # The services in this catalogue are not crisis services; the constraint keeps it so.
    is_crisis_service = models.BooleanField(default=False, editable=False)
    offers_urgent_consult = models.BooleanField(
        default=False, help_text="Offers 'talk to someone now' to a person triaged urgent."
    )
    min_notice_hours = models.PositiveSmallIntegerField(default=24)
    priority_min_notice_hours = models.PositiveSmallIntegerField(default=4)
    cancellation_notice_hours = models.PositiveSmallIntegerField(default=24)
    late_cancellation_uses_session = models.BooleanField(default=False)
    shows_triage_to_clinician = models.BooleanField(default=False)
    display_order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["display_order", "name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(is_crisis_service=False), name="program_is_never_a_crisis_service"
            )
        ]

    def __str__(self) -> str:
        return self.name


class District(models.Model):
    """A Local Health District, specialty network or health service that employs doctors."""

    class Kind(models.TextChoices):
        LOCAL_HEALTH_DISTRICT = "lhd", "Local Health District"
        SPECIALTY_NETWORK = "network", "Specialty health network"
        HEALTH_SERVICE = "health_service", "Health service"

    code = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=120)
    state = models.CharField(max_length=3, choices=State.choices)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    eap_name = models.CharField(max_length=120, blank=True)
    eap_phone = models.CharField(max_length=20, blank=True)

    class Meta:
        ordering = ["state", "name"]

    def __str__(self) -> str:
        return self.name


class Facility(models.Model):
    """A hospital or other workplace within a district."""

    district = models.ForeignKey(District, on_delete=models.CASCADE, related_name="facilities")
    name = models.CharField(max_length=120)

    class Meta:
        ordering = ["district__name", "name"]
        verbose_name_plural = "facilities"
        constraints = [
            models.UniqueConstraint(fields=["district", "name"], name="facility_unique_in_district")
        ]

    def __str__(self) -> str:
        return self.name


class Episode(models.Model):
    """One person's run of sessions with one program; referrals open or continue it.

    The person is identified by their normalised email only, and the screen never reveals
    whether an address already has an episode.
    """

    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="episodes")
    email_normalised = models.CharField(max_length=254, db_index=True)
    session_limit = models.PositiveSmallIntegerField()
    limit_override_reason = EncryptedTextField(blank=True)
    limit_overridden_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    opened_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["program", "email_normalised"],
                condition=Q(closed_at__isnull=True),
                name="one_open_episode_per_person_and_program",
            )
        ]

    def __str__(self) -> str:
        return f"Episode {self.pk} ({self.program.short_name})"


class Referral(models.Model):
    """A case: one person's request for help from one program."""

    class Status(models.TextChoices):
        NEW = "new", "Waiting to be matched"
        DIVERTED = "diverted", "Urgent: diverted to crisis help"
        HELD = "held", "Held for a coordinator"
        UNMATCHED = "unmatched", "No suitable time yet"
        PROPOSED = "proposed", "Session offered to a clinician"
        BOOKED = "booked", "Session booked"
        CLOSED = "closed", "Closed"
        WITHDRAWN = "withdrawn", "Withdrawn"

    class Source(models.TextChoices):
        SELF = "self", "Self-referral"
        PHONE = "phone", "Phone intake"
        ON_BEHALF = "on_behalf", "On someone's behalf"

    class Priority(models.TextChoices):
        ROUTINE = "routine", "Routine"
        PRIORITY = "priority", "Priority"
        URGENT = "urgent", "Urgent"

    class ContactMethod(models.TextChoices):
        EMAIL = "email", "Email"
        PHONE = "phone", "Phone call"
        SMS = "sms", "Text message"

    class Modality(models.TextChoices):
        ANY = "any", "No preference"
        PHONE = "phone", "Phone"
        VIDEO = "video", "Video"

    class GenderPreference(models.TextChoices):
        ANY = "any", "No preference"
        FEMALE = "female", "Woman"
        MALE = "male", "Man"
        NON_BINARY = "non_binary", "Non-binary"

    class SpecialtyPreference(models.TextChoices):
        ANY = "any", "No preference"
        SAME = "same", "Same specialty as mine"
        DIFFERENT = "different", "A different specialty"

    reference = models.CharField(max_length=12, unique=True)
    # Indexed by referral_program_status_idx, which leads with it.
    program = models.ForeignKey(
        Program, on_delete=models.PROTECT, related_name="referrals", db_index=False
    )
    episode = models.ForeignKey(
        Episode, null=True, blank=True, on_delete=models.PROTECT, related_name="referrals"
    )
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.NEW)
    source = models.CharField(max_length=12, choices=Source.choices, default=Source.SELF)
    priority = models.CharField(max_length=10, choices=Priority.choices, default=Priority.ROUTINE)
    intake_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,  # referral_intake_by_idx
    )

    # The person
    given_name = models.CharField(max_length=100)
    family_name = models.CharField(max_length=100)
    preferred_name = models.CharField(max_length=100, blank=True)
    email = models.EmailField(max_length=254)
    phone = models.CharField(max_length=20, blank=True, help_text="E.164")
    contact_method = models.CharField(
        max_length=8, choices=ContactMethod.choices, default=ContactMethod.EMAIL
    )
    is_voicemail_ok = models.BooleanField(default=False)
    referrer_name = models.CharField(
        max_length=200, blank=True, help_text="A colleague referring on the person's behalf."
    )
    referrer_email = models.EmailField(blank=True)
    has_person_agreed = models.BooleanField(default=False)

    # Eligibility and workplace
    career_stage = models.CharField(max_length=20, choices=CareerStage.choices, blank=True)
    state = models.CharField(max_length=3, choices=State.choices, blank=True)
    employer_district = models.ForeignKey(
        District, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    workplace_district = models.ForeignKey(
        District, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    workplace_facility = models.ForeignKey(
        Facility, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    specialty = models.CharField(max_length=100, blank=True)

    # What's going on
    reasons = models.JSONField(default=list, blank=True)
    details = EncryptedTextField(blank=True)

    # Preferences
    modality = models.CharField(max_length=8, choices=Modality.choices, default=Modality.ANY)
    clinician_gender = models.CharField(
        max_length=12, choices=GenderPreference.choices, default=GenderPreference.ANY
    )
    specialty_preference = models.CharField(
        max_length=10, choices=SpecialtyPreference.choices, default=SpecialtyPreference.ANY
    )
    # Keys such as "mon-morning"; see referrals.windows for what each covers.
    preferred_windows = models.JSONField(default=list, blank=True)
    time_zone = models.CharField(max_length=40, default="Australia/Sydney")

    # Consents
    collection_notice_version = models.CharField(max_length=20)
    has_accepted_not_crisis_service = models.BooleanField(default=False)
    consented_at = models.DateTimeField(null=True, blank=True)

    # Work state
    unmatched_reason = models.CharField(max_length=200, blank=True)
    hold_reason = models.CharField(max_length=200, blank=True)
    urgent_acknowledged_at = models.DateTimeField(null=True, blank=True)
    urgent_acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,  # referral_urgent_ack_by_idx
    )
    urgent_acknowledgement_note = EncryptedTextField(blank=True)
    wants_urgent_consult = models.BooleanField(default=False)
    match_requested_at = models.DateTimeField(null=True, blank=True)
    closed_outcome = models.CharField(max_length=200, blank=True)
    # The person asked, through their page, for their details to be deleted; a coordinator
    # confirms it (privacy.services.referral_deidentify). Kept afterwards: it names nobody.
    deletion_requested_at = models.DateTimeField(null=True, blank=True)

    submitted_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-submitted_at"]
        indexes = [
            models.Index(fields=["status", "submitted_at"], name="referral_queue_idx"),
            models.Index(fields=["program", "status"], name="referral_program_status_idx"),
            # Every match task asks whether a burst is waiting; only those few rows are in it.
            models.Index(
                F("priority").desc(),
                "submitted_at",
                condition=Q(status="new", match_requested_at__isnull=False),
                name="referral_waiting_match_idx",
            ),
            # Only the few referrals a staff member took by phone or acknowledged as urgent
            # have these: a full index gave every referral an entry, which every change of
            # status (a batch moves thousands) then had to write again.
            models.Index(
                fields=["intake_by"],
                condition=Q(intake_by__isnull=False),
                name="referral_intake_by_idx",
            ),
            models.Index(
                fields=["urgent_acknowledged_by"],
                condition=Q(urgent_acknowledged_by__isnull=False),
                name="referral_urgent_ack_by_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.reference

    @property
    def display_name(self) -> str:
        return self.preferred_name or self.given_name


class ReferralEvent(models.Model):
    """One step in a referral's history: a transition, with who, when and why."""

    referral = models.ForeignKey(Referral, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=12, blank=True)
    to_status = models.CharField(max_length=12)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=60, help_text="'system', 'referrer', or a role.")
    reason = models.CharField(max_length=500, blank=True)
    occurred_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["occurred_at", "pk"]

    def __str__(self) -> str:
        return f"{self.referral_id}: {self.from_status or '∅'} → {self.to_status}"


class TriageAssessment(models.Model):
    """The safety answers given with a referral and what the rules made of them."""

    class Outcome(models.TextChoices):
        ROUTINE = "routine", "Routine"
        PRIORITY = "priority", "Priority"
        URGENT = "urgent", "Urgent"

    referral = models.OneToOneField(Referral, on_delete=models.CASCADE, related_name="triage")
    answers = EncryptedJSONField()
    k10_score = models.PositiveSmallIntegerField(null=True, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    rule_version = models.CharField(max_length=20)
    rule_fired = models.CharField(max_length=60)
    assessed_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.outcome} ({self.rule_fired})"
