"""Demo data for a laptop: clinicians with availability and slots, a few cases, two logins.

Runs only where settings.DEMO_MODE is True (the local settings); production and test settings
refuse. Idempotent: what exists is left as it is (so edits made in the demo survive a restart),
what is missing is created, and the demo passwords are set again so the printed ones work.
Every person here is fictional; every address is under .test.
"""

import datetime as dt
import random
import time
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from referrals.models import (
    District,
    Episode,
    Facility,
    Program,
    ProviderRole,
    Referral,
    TriageAssessment,
)
from referrals.reference_data import reference_data_load
from referrals.workflow import referral_record_creation, referral_transition
from scheduling.models import (
    Appointment,
    AppointmentEvent,
    AvailabilityRule,
    Clinician,
    Slot,
    TimeOff,
)
from scheduling.services import slots_materialise
from scheduling.services.load import clinician_weeks_adjust
from scheduling.workflow import appointment_transition
from staff.demo import demo_staff_prepare

# Shown on screen by `make run`; demo only, never used with production settings.
DEMO_LOGINS = {
    "coordinator": "demo-coordinator-pass",
    "clinician": "demo-clinician-pass",
}
CLINICIANS_PER_PROGRAM = 15
MAIL_DOMAIN = "demo.soundingboard.test"
# Staff pages need a second factor; demo logins get single-use backup codes, printed each run.
DEMO_BACKUP_CODE_COUNT = 5

GIVEN_NAMES = [
    "Aisha", "Ben", "Chloe", "Dev", "Elena", "Farid", "Grace", "Hiro", "Isla", "Jonah", "Kiri",
    "Liam", "Mei", "Noah", "Olivia", "Priya", "Quinn", "Rosa", "Sami", "Tara", "Uma", "Vikram",
    "Wen", "Xavier", "Yasmin", "Zac",
]  # fmt: skip
FAMILY_NAMES = [
    "Abbott", "Barker", "Castellano", "Dang", "Edwards", "Fitzgerald", "Gupta", "Haddad",
    "Ivanova", "Jensen", "Kaur", "Lindqvist", "Murray", "Nguyen", "O'Connell", "Papadopoulos",
    "Quist", "Rahman", "Silva", "Tanaka", "Underwood", "Varga", "Walsh", "Yilmaz", "Zhou",
]  # fmt: skip

SENIOR_SPECIALTIES = [
    "Emergency medicine", "General medicine", "Psychiatry", "Anaesthetics", "General surgery",
    "Paediatrics", "Obstetrics and gynaecology", "Intensive care", "General practice",
    "Rehabilitation medicine",
]  # fmt: skip
COUNSELLOR_KINDS = [
    ("AHPRA", "Clinical psychology", "PSY"),
    ("AASW", "Social work", "AASW-"),
    ("ACA", "Counselling", "ACA-"),
    ("PACFA", "Psychotherapy", "PACFA-"),
]
GENDERS = ["female", "male", "female", "non_binary", "male", ""]

# Weekly patterns: (weekday, start hour, end hour); each clinician gets one or two.
PATTERNS = [
    [(0, 9, 12), (2, 9, 12)],
    [(1, 13, 17), (3, 13, 17)],
    [(0, 17, 20), (3, 17, 20)],
    [(2, 8, 11), (4, 8, 11)],
    [(1, 9, 12), (5, 9, 12)],
    [(0, 12, 15), (4, 12, 15)],
]
ZONE_OF_STATE = {"NSW": "Australia/Sydney", "VIC": "Australia/Melbourne"}

COORDINATOR_PERMISSIONS = {
    "view": [
        "program", "district", "facility", "episode", "referral", "referralevent",
        "triageassessment", "clinician", "availabilityrule", "timeoff", "slot", "appointment",
        "appointmentevent", "user",
    ],
    "change": ["program", "district", "facility", "referral", "clinician", "availabilityrule",
               "timeoff"],
    "add": ["facility", "clinician", "availabilityrule", "timeoff"],
    "delete": ["availabilityrule", "timeoff"],
}  # fmt: skip


class Command(BaseCommand):
    help = "Create demo clinicians, availability, slots, cases and logins (DEMO_MODE only)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--site-url", default=settings.SITE_URL, help="Where the printed links point."
        )

    def handle(self, *args, **options):
        if not getattr(settings, "DEMO_MODE", False):
            raise CommandError("seed_demo runs only with DEMO_MODE on (the local settings).")
        started = time.monotonic()
        today = timezone.localdate()
        with transaction.atomic():
            if not Program.objects.filter(is_bookable=True).exists():
                # Normally loaded by the data migration; a flushed database needs it again.
                reference_data_load(
                    program_model=Program, district_model=District, facility_model=Facility
                )
            groups = _groups()
            _coordinator_login(groups["coordinator"])
            clinicians = _clinicians(today=today, clinician_group=groups["clinician"])
            backup_codes = {
                username: demo_staff_prepare(
                    user=get_user_model().objects.get(username=username),
                    group=username,
                    count=DEMO_BACKUP_CODE_COUNT,
                )
                for username in DEMO_LOGINS
            }
        for clinician in clinicians:
            slots_materialise(clinician_id=clinician.pk)
        with transaction.atomic():
            referral_count = _demo_referrals(clinicians)
        self._print_summary(
            options["site_url"].rstrip("/"),
            clinicians=clinicians,
            referral_count=referral_count,
            backup_codes=backup_codes,
            seconds=time.monotonic() - started,
        )

    def _print_summary(self, site_url, *, clinicians, referral_count, backup_codes, seconds):
        demo_clinician = Clinician.objects.get(user__username="clinician")
        slot_count = Slot.objects.filter(is_offered=True, starts_at__gte=timezone.now()).count()
        lines = [
            "",
            "Sounding Board demo — demo data and demo passwords only, never for real use.",
            f"  Site:   {site_url}/",
            f"  Staff sign-in: {site_url}{reverse('staff:sign_in')}  (then the workspace, and the"
            f" admin at {site_url}/{settings.ADMIN_URL})",
            f"  Coordinator login: coordinator / {DEMO_LOGINS['coordinator']}",
            f"  Clinician login:   clinician / {DEMO_LOGINS['clinician']}"
            f"  ({demo_clinician.display_name})",
            "  The second step asks for a code: use one of these single-use backup codes.",
            f"    coordinator: {' '.join(backup_codes['coordinator'])}",
            f"    clinician:   {' '.join(backup_codes['clinician'])}",
            f"  {len(clinicians)} clinicians, {slot_count} open slots over the next "
            f"{settings.SLOT_HORIZON_WEEKS} weeks, {referral_count} demo cases "
            f"(seeded in {seconds:.1f} s).",
            "",
        ]
        self.stdout.write("\n".join(lines))


def _groups() -> dict[str, Group]:
    coordinator, _ = Group.objects.get_or_create(name="coordinator")
    clinician, _ = Group.objects.get_or_create(name="clinician")
    codenames = [
        f"{action}_{model}"
        for action, models in COORDINATOR_PERMISSIONS.items()
        for model in models
    ]
    coordinator.permissions.set(
        Permission.objects.filter(
            content_type__app_label__in=["referrals", "scheduling", "auth"], codename__in=codenames
        )
    )
    return {"coordinator": coordinator, "clinician": clinician}


def _login(username: str, *, group: Group, is_staff: bool, display_name: str):
    user, _ = get_user_model().objects.get_or_create(
        username=username, defaults={"email": f"{username}@{MAIL_DOMAIN}"}
    )
    first_name, _, last_name = display_name.partition(" ")
    user.first_name, user.last_name, user.is_staff, user.is_active = (
        first_name, last_name, is_staff, True
    )  # fmt: skip
    user.set_password(DEMO_LOGINS[username])
    user.save()
    user.groups.add(group)
    return user


def _coordinator_login(group: Group) -> None:
    _login("coordinator", group=group, is_staff=True, display_name="Casey Coordinator")


def _clinicians(*, today: dt.date, clinician_group: Group) -> list[Clinician]:
    """The demo clinicians, created where missing; the first is the demo clinician login."""
    rng = random.Random(20260401)
    programs = {p.code: p for p in Program.objects.filter(is_bookable=True)}
    districts = list(
        District.objects.filter(state__in=ZONE_OF_STATE).prefetch_related("facilities")
    )
    nsw_districts = [d for d in districts if d.state == "NSW"]
    plan = [
        (role, program_code)
        for _ in range(CLINICIANS_PER_PROGRAM)
        for role, program_code in (
            (ProviderRole.SENIOR_CLINICIAN, "jmo-support-line"),
            (ProviderRole.COACH, "dup"),
            (ProviderRole.COUNSELLOR, "drs4drs"),
        )
    ]
    clinicians = []
    for number, (role, program_code) in enumerate(plan, start=1):
        username = "clinician" if number == 1 else f"demo-clinician-{number:02d}"
        existing = Clinician.objects.filter(user__username=username).first()
        if existing:
            clinicians.append(existing)
            continue
        # The JMO Support Line is NSW Health's; coaches and counsellors come from both states.
        pool = nsw_districts if role == ProviderRole.SENIOR_CLINICIAN else districts
        home = pool[(number * 7) % len(pool)]
        # Some work in a second district of the same state, which matching must also avoid.
        second = [d for d in pool if d.state == home.state and d != home][number % 5]
        clinicians.append(
            _new_clinician(
                number=number,
                username=username,
                display_name=_name(number),
                role=role,
                program=programs[program_code],
                districts=[home, second] if number % 4 == 0 else [home],
                rng=rng,
                today=today,
                clinician_group=clinician_group,
            )
        )
    return clinicians


def _name(number: int) -> str:
    # 26 given and 25 family names, stepped differently: no pair repeats within 650.
    given = GIVEN_NAMES[number % len(GIVEN_NAMES)]
    return f"{given} {FAMILY_NAMES[(number * 11) % len(FAMILY_NAMES)]}"


def _new_clinician(
    *, number, username, display_name, role, program, districts, rng, today, clinician_group
) -> Clinician:
    if role == ProviderRole.SENIOR_CLINICIAN:
        display_name = f"Dr {display_name}"
    user = _clinician_user(username, display_name=display_name, group=clinician_group)
    offers_phone, offers_video = rng.choice([(True, True), (True, False), (False, True)])
    clinician = Clinician.objects.create(
        user=user,
        display_name=display_name,
        roles=[role],
        specialty=_specialty(role, number),
        gender=GENDERS[number % len(GENDERS)],
        offers_phone=offers_phone,
        offers_video=offers_video,
        video_link=f"https://video.{MAIL_DOMAIN}/room/{number:02d}" if offers_video else "",
        time_zone=ZONE_OF_STATE[districts[0].state],
        holiday_state=districts[0].state,
        weekly_capacity=rng.randint(3, 10),
        calendar_email=f"calendar.{number:02d}@{MAIL_DOMAIN}",
        # A few counsellors take urgent "talk to someone now" consultations.
        is_on_duty=role == ProviderRole.COUNSELLOR and number % 9 == 0,
        **_registration(role, number),
    )
    clinician.programs.set([program])
    clinician.districts.set(districts)
    facilities = list(districts[0].facilities.all())
    if facilities:
        clinician.facilities.set([rng.choice(facilities)])
    _availability(clinician, number=number, today=today)
    return clinician


def _clinician_user(username: str, *, display_name: str, group: Group):
    if username in DEMO_LOGINS:
        return _login(username, group=group, is_staff=False, display_name=display_name)
    user = get_user_model().objects.create(
        username=username, email=f"{username}@{MAIL_DOMAIN}", first_name=display_name
    )
    user.set_unusable_password()
    user.save(update_fields=["password"])
    user.groups.add(group)
    return user


def _specialty(role: str, number: int) -> str:
    if role == ProviderRole.SENIOR_CLINICIAN:
        return SENIOR_SPECIALTIES[number % len(SENIOR_SPECIALTIES)]
    if role == ProviderRole.COUNSELLOR:
        return COUNSELLOR_KINDS[number % len(COUNSELLOR_KINDS)][1]
    return "Workplace coaching"


def _registration(role: str, number: int) -> dict[str, str]:
    if role != ProviderRole.COUNSELLOR:
        return {}
    body, _, prefix = COUNSELLOR_KINDS[number % len(COUNSELLOR_KINDS)]
    digits = 10 if body == "AHPRA" else 6
    return {"registration_body": body, "registration_number": f"{prefix}{number:0{digits}d}"}


def _availability(clinician: Clinician, *, number: int, today: dt.date) -> None:
    patterns = [PATTERNS[number % len(PATTERNS)]]
    if number % 3 == 0:
        patterns.append(PATTERNS[(number + 2) % len(PATTERNS)])
    AvailabilityRule.objects.bulk_create(
        AvailabilityRule(
            clinician=clinician,
            weekday=weekday,
            starts_at_time=dt.time(start),
            ends_at_time=dt.time(end),
            valid_from_on=today,
        )
        for pattern in patterns
        for weekday, start, end in pattern
    )
    if number % 5 == 0:
        leave_on = today + dt.timedelta(days=7 + number % 14)
        zone = ZoneInfo(clinician.time_zone)
        TimeOff.objects.create(
            clinician=clinician,
            starts_at=dt.datetime.combine(leave_on, dt.time(), tzinfo=zone),
            ends_at=dt.datetime.combine(leave_on + dt.timedelta(days=7), dt.time(), tzinfo=zone),
            note="Annual leave",
        )


@dataclass(frozen=True)
class DemoCase:
    reference: str
    program_code: str
    priority: str
    path: tuple[str, ...]  # statuses it is created in and then moved through
    note: str = ""


DEMO_CASES = [
    DemoCase("DEMO01", "dup", "routine", ("new",)),
    DemoCase("DEMO02", "jmo-support-line", "routine", ("new", "unmatched"), "No time fits yet."),
    DemoCase("DEMO03", "drs4drs", "urgent", ("diverted",)),
    DemoCase("DEMO04", "drs4drs", "priority", ("held",), "Coordinator to call first."),
    DemoCase("DEMO05", "dup", "routine", ("new", "proposed")),
    DemoCase("DEMO06", "jmo-support-line", "routine", ("new", "proposed", "booked")),
    DemoCase("DEMO07", "dup", "routine", ("new", "withdrawn"), "Found help elsewhere."),
]


def _demo_referrals(clinicians: list[Clinician]) -> int:
    """A few fictional cases in different statuses; a proposed and a booked one hold slots."""
    existing = set(
        Referral.objects.filter(reference__in=[c.reference for c in DEMO_CASES]).values_list(
            "reference", flat=True
        )
    )
    by_program = {}
    for clinician in clinicians:
        for code in clinician.programs.values_list("code", flat=True):
            by_program.setdefault(code, clinician)
    # The booked JMO case is with the demo clinician login, so that login has a session.
    by_program["jmo-support-line"] = clinicians[0]
    for number, case in enumerate(DEMO_CASES, start=1):
        if case.reference not in existing:
            _new_case(case, number=number, clinician=by_program[case.program_code])
    return len(DEMO_CASES)


def _new_case(case: DemoCase, *, number: int, clinician: Clinician) -> None:
    program = Program.objects.get(code=case.program_code)
    email = f"referrer{number:02d}@{MAIL_DOMAIN}"
    # Matching never uses a clinician from the referrer's own district; nor does the demo.
    district = (
        District.objects.filter(state="NSW").exclude(clinicians=clinician).order_by("code").first()
    )
    initial, *moves = case.path
    referral = Referral.objects.create(
        reference=case.reference,
        program=program,
        episode=Episode.objects.create(
            program=program, email_normalised=email, session_limit=program.session_limit
        ),
        status=initial,
        priority=case.priority,
        given_name=GIVEN_NAMES[-number],
        family_name="Example",
        email=email,
        phone=f"+6140000{number:04d}",
        career_stage="resident",
        state="NSW",
        employer_district=district,
        workplace_district=district,
        preferred_windows=["mon-morning", "tue-afternoon", "wed-morning", "thu-evening"],
        collection_notice_version="demo",
        has_accepted_not_crisis_service=True,
        consented_at=timezone.now(),
        unmatched_reason=case.note if "unmatched" in case.path else "",
        hold_reason=case.note if initial == "held" else "",
    )
    TriageAssessment.objects.create(
        referral=referral,
        answers={},
        outcome=case.priority,
        rule_version="demo",
        rule_fired="demo-seed",
    )
    referral_record_creation(referral, actor_label="referrer", reason="demo case")
    for status in moves:
        if status == "proposed":
            _propose(referral, clinician)
        referral_transition(referral, status, actor_label="system", reason=case.note)
        if status == "booked":
            _accept(referral.appointments.get(), clinician)


def _propose(referral: Referral, clinician: Clinician) -> Appointment:
    slot = (
        Slot.objects.filter(
            clinician=clinician,
            is_offered=True,
            starts_at__gte=timezone.now() + dt.timedelta(days=3),
        )
        .exclude(appointments__status__in=Appointment.LIVE_STATUSES)
        .order_by("starts_at")
        .first()
    )
    if slot is None:
        raise CommandError(f"no free slot for the demo case {referral.reference}")
    appointment = Appointment.objects.create(
        referral=referral,
        slot=slot,
        clinician=clinician,
        session_number=1,
        modality="phone" if clinician.offers_phone else "video",
        expires_at=timezone.now() + dt.timedelta(days=2),
    )
    AppointmentEvent.objects.create(
        appointment=appointment, to_status=appointment.status, actor_label="system"
    )
    clinician_weeks_adjust(slot_ids=[slot.pk], delta=1)
    return appointment


def _accept(appointment: Appointment, clinician: Clinician) -> None:
    appointment_transition(
        appointment, Appointment.Status.ACCEPTED, actor=clinician.user, actor_label="clinician"
    )
    appointment.responded_at = timezone.now()
    appointment.save(update_fields=["responded_at", "updated_at"])
