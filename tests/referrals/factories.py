import factory

from referrals.models import District, Episode, Facility, Program, Referral, State


class ProgramFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Program
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"program-{n}")
    name = factory.Sequence(lambda n: f"Program {n}")
    short_name = factory.Sequence(lambda n: f"P{n}")
    description = "A support program."
    eligibility = "Doctors."
    provider_role = "coach"
    session_limit = 3


class DistrictFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = District
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"district-{n}")
    name = factory.Sequence(lambda n: f"District {n}")
    state = State.NSW
    kind = District.Kind.LOCAL_HEALTH_DISTRICT


class FacilityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Facility

    district = factory.SubFactory(DistrictFactory)
    name = factory.Sequence(lambda n: f"Hospital {n}")


class EpisodeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Episode

    program = factory.SubFactory(ProgramFactory)
    email_normalised = factory.Sequence(lambda n: f"doctor{n}@example.test")
    session_limit = factory.SelfAttribute("program.session_limit")


class ReferralFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Referral

    reference = factory.Sequence(lambda n: f"T{n:05d}")
    program = factory.SubFactory(ProgramFactory)
    episode = factory.SubFactory(
        EpisodeFactory,
        program=factory.SelfAttribute("..program"),
        email_normalised=factory.SelfAttribute("..email"),
    )
    given_name = "Alex"
    family_name = factory.Sequence(lambda n: f"Testperson{n}")
    email = factory.Sequence(lambda n: f"doctor{n}@example.test")
    phone = "+61412345678"
    career_stage = "resident"
    state = State.NSW
    workplace_district = factory.SubFactory(DistrictFactory)
    employer_district = factory.SelfAttribute("workplace_district")
    collection_notice_version = "2026-11"
    has_accepted_not_crisis_service = True


def reference_data_ensure() -> None:
    """Load the real programs, districts and facilities unless they are there already.

    The data migration loads them, but a transactional test (a browser test) empties the
    tables when it ends, so tests that need them ask for them.
    """
    from referrals.models import Program
    from referrals.reference_data import reference_data_load

    if not Program.objects.filter(code="dup").exists():
        reference_data_load(program_model=Program, district_model=District, facility_model=Facility)
