"""The three staff groups every access check is written against."""

from django.db import migrations

GROUPS = ("coordinator", "clinician", "admin")


def create_groups(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for name in GROUPS:
        Group.objects.get_or_create(name=name)


def remove_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=GROUPS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("staff", "0001_case_activity_urgent_realert"),
    ]

    operations = [migrations.RunPython(create_groups, remove_groups)]
