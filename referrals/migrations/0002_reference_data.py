from django.db import migrations

from referrals.reference_data import reference_data_load


def load(apps, schema_editor):
    reference_data_load(
        program_model=apps.get_model("referrals", "Program"),
        district_model=apps.get_model("referrals", "District"),
        facility_model=apps.get_model("referrals", "Facility"),
    )


class Migration(migrations.Migration):
    dependencies = [("referrals", "0001_initial")]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
