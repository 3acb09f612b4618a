"""Database triggers that refuse UPDATE and DELETE on the audit log and the retention register
unless the purge permission is on (see privacy.append_only).

On SQLite, a later migration that rebuilds one of these tables (most AlterField operations do)
drops its triggers with the old table: such a migration must run triggers_install again."""

from django.db import migrations

from privacy.append_only import triggers_install, triggers_remove

TABLES = ["privacy_auditentry", "privacy_retentionrecord"]


def install(apps, schema_editor):
    for table in TABLES:
        triggers_install(table)(apps, schema_editor)


def remove(apps, schema_editor):
    for table in TABLES:
        triggers_remove(table)(apps, schema_editor)


class Migration(migrations.Migration):
    dependencies = [("privacy", "0001_audit_log_and_retention_register")]

    operations = [migrations.RunPython(install, remove)]
