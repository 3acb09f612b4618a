"""Reads for the referral journey, with their queries decided here."""

from functools import cached_property

from .eligibility import ProgramRules
from .models import District, Episode, Facility, Program, Referral


class Catalogue:
    """Programs, districts and facilities for one request, each loaded at most once.

    A wizard step needs some of them to build its choices and to show earlier answers; loading
    them lazily and once keeps every step within its query budget.
    """

    @cached_property
    def programs(self) -> list[Program]:
        return list(Program.objects.all())

    @cached_property
    def bookable_programs(self) -> list[Program]:
        return [program for program in self.programs if program.is_bookable]

    @cached_property
    def information_only_programs(self) -> list[Program]:
        return [program for program in self.programs if not program.is_bookable]

    def program(self, code: str) -> Program | None:
        return next((p for p in self.programs if p.code == code), None)

    @cached_property
    def districts(self) -> list[District]:
        return list(District.objects.all())

    def district(self, district_id: int | None) -> District | None:
        return next((d for d in self.districts if d.pk == district_id), None)

    @cached_property
    def facilities(self) -> list[Facility]:
        return list(Facility.objects.order_by("name"))

    def facilities_in(self, district_id: int | None) -> list[Facility]:
        return [f for f in self.facilities if f.district_id == district_id]

    def facility(self, facility_id: int | None) -> Facility | None:
        return next((f for f in self.facilities if f.pk == facility_id), None)


def program_rules(program: Program) -> ProgramRules:
    """What the pure eligibility rule needs to know of a program."""
    return ProgramRules(
        code=program.code,
        eligible_career_stages=tuple(program.eligible_career_stages),
        is_nsw_health_only=program.is_nsw_health_only,
    )


def referral_for_confirmation(*, referral_id: int) -> Referral | None:
    """The referral with what its confirmation or crisis page shows, or None if it is gone."""
    return (
        Referral.objects.select_related("program", "workplace_district", "employer_district")
        .filter(pk=referral_id)
        .first()
    )


def episode_appointment_statuses(*, episode_id: int) -> list[str]:
    """The status of every appointment of every referral in the episode."""
    statuses = Referral.objects.filter(episode_id=episode_id).values_list(
        "appointments__status", flat=True
    )
    return [status for status in statuses if status]  # None: a referral with no appointment


def open_episode_for_update(*, program: Program, email_normalised: str) -> Episode | None:
    """The person's open episode with the program, locked for the caller's transaction."""
    return (
        Episode.objects.select_for_update()
        .filter(program=program, email_normalised=email_normalised, closed_at__isnull=True)
        .first()
    )


def open_referral_ids_for_email(email: str) -> list[int]:
    """The person's referrals still open (not closed or withdrawn), found by their address."""
    return list(
        Referral.objects.filter(email__iexact=email.strip())
        .exclude(status__in=(Referral.Status.CLOSED, Referral.Status.WITHDRAWN))
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def referral_ids_waiting_for_match(*, limit: int) -> list[int]:
    """NEW referrals whose match has been asked for, PRIORITY first, then oldest."""
    return list(
        Referral.objects.filter(status=Referral.Status.NEW, match_requested_at__isnull=False)
        .order_by("-priority", "submitted_at")
        .values_list("pk", flat=True)[:limit]
    )
