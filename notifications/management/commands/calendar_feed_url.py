"""Print a clinician's secret calendar feed address (webcal:// and https://), or revoke it."""

from django.core.management.base import BaseCommand, CommandError

from notifications import services
from scheduling.models import Clinician


class Command(BaseCommand):
    help = "Show a clinician's calendar feed address; --rotate revokes the old one first."

    def add_arguments(self, parser):
        parser.add_argument("clinician_id", type=int)
        parser.add_argument("--rotate", action="store_true", help="issue a new address")

    def handle(self, *args, clinician_id: int, rotate: bool, **options):
        if rotate:
            try:
                services.feed_token_rotate(clinician_id=clinician_id)
            except Clinician.DoesNotExist:
                raise CommandError(f"no clinician {clinician_id}") from None
        clinician = Clinician.objects.filter(pk=clinician_id).first()
        if clinician is None:
            raise CommandError(f"no clinician {clinician_id}")
        for kind, url in services.feed_urls(clinician).items():
            self.stdout.write(f"{kind}: {url}")
