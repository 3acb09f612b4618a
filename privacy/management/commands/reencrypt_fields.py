from django.core.management.base import BaseCommand

from privacy.services import encrypted_values_rotate


class Command(BaseCommand):
    help = (
        "Re-encrypt every encrypted field value with the current (first) key in "
        "FIELD_ENCRYPTION_KEYS. Run after putting a new key first; once it reports nothing left, "
        "the old key can be removed. Safe to run again."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--batch-size", type=int, default=500)

    def handle(self, *args, batch_size: int, **options) -> None:
        counts = encrypted_values_rotate(batch_size=batch_size)
        for field, count in counts.items():
            self.stdout.write(f"{field}: {count} re-encrypted")
        self.stdout.write(self.style.SUCCESS(f"done: {sum(counts.values())} values re-encrypted"))
