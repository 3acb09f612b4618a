from django.db import migrations, models


def capacities_copy(apps, schema_editor):
    """Every existing week takes its clinician's weekly capacity."""
    Clinician = apps.get_model("scheduling", "Clinician")
    ClinicianWeek = apps.get_model("scheduling", "ClinicianWeek")
    for clinician_id, capacity in Clinician.objects.values_list("pk", "weekly_capacity"):
        ClinicianWeek.objects.filter(clinician_id=clinician_id).update(capacity=capacity)


class Migration(migrations.Migration):
    dependencies = [("scheduling", "0003_indexes_every_write_needs")]

    operations = [
        migrations.AddField(
            model_name="clinicianweek",
            name="capacity",
            field=models.PositiveSmallIntegerField(default=0),
            preserve_default=False,
        ),
        migrations.RunPython(capacities_copy, migrations.RunPython.noop, elidable=True),
        migrations.AddIndex(
            model_name="clinicianweek",
            index=models.Index(
                condition=models.Q(("held__gte", models.F("capacity"))),
                fields=["ends_at"],
                name="clinician_week_full_idx",
            ),
        ),
    ]
