import datetime as dt

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from scheduling.models import Appointment, AvailabilityRule, Clinician, Slot, TimeOff
from tests.referrals.factories import ReferralFactory


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@staff.test")
    password = factory.django.Password("correct horse battery staple")


class ClinicianFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Clinician
        skip_postgeneration_save = True

    user = factory.SubFactory(UserFactory)
    display_name = factory.Sequence(lambda n: f"Clinician {n}")
    roles = factory.LazyFunction(lambda: ["coach"])
    calendar_email = factory.Sequence(lambda n: f"clinician{n}@calendar.test")
    weekly_capacity = 10

    @factory.post_generation
    def programs(self, create, extracted, **kwargs):
        if create and extracted:
            self.programs.set(extracted)

    @factory.post_generation
    def districts(self, create, extracted, **kwargs):
        if create and extracted:
            self.districts.set(extracted)


class AvailabilityRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AvailabilityRule

    clinician = factory.SubFactory(ClinicianFactory)
    weekday = 0
    starts_at_time = dt.time(9)
    ends_at_time = dt.time(12)
    valid_from_on = factory.LazyFunction(lambda: timezone.localdate())


class SlotFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Slot

    clinician = factory.SubFactory(ClinicianFactory)
    starts_at = factory.Sequence(
        lambda n: (timezone.now() + dt.timedelta(days=3, hours=n)).replace(
            minute=0, second=0, microsecond=0
        )
    )
    ends_at = factory.LazyAttribute(lambda s: s.starts_at + dt.timedelta(hours=1))


class AppointmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Appointment

    referral = factory.SubFactory(ReferralFactory, status="proposed")
    slot = factory.SubFactory(SlotFactory)
    clinician = factory.SelfAttribute("slot.clinician")
    session_number = 1


class TimeOffFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TimeOff

    clinician = factory.SubFactory(ClinicianFactory)
    starts_at = factory.LazyFunction(lambda: timezone.now() + dt.timedelta(days=7))
    ends_at = factory.LazyAttribute(lambda t: t.starts_at + dt.timedelta(days=1))
