from django.core.management.base import BaseCommand

from referrals.models import District, Facility, Program
from referrals.reference_data import reference_data_load


class Command(BaseCommand):
    help = "Create or update the programs, districts and facilities (idempotent)."

    def handle(self, *args, **options):
        reference_data_load(program_model=Program, district_model=District, facility_model=Facility)
        self.stdout.write(
            f"{Program.objects.count()} programs, {District.objects.count()} districts, "
            f"{Facility.objects.count()} facilities."
        )
