"""The review queue: a proxy of Prediction for its own admin page, and the analysts' permission to see it."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

QUEUE_PERMISSIONS = ["view_reviewqueueitem"]


def grant_queue_to_analysts(apps, schema_editor):
    # Permissions are normally created after all migrations; make sure the proxy's exist now.
    app_config = apps.get_app_config("predictions")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name="analyst")
    group.permissions.add(
        *Permission.objects.filter(content_type__app_label="predictions", codename__in=QUEUE_PERMISSIONS)
    )


def revoke_queue_from_analysts(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for group in Group.objects.filter(name="analyst"):
        group.permissions.remove(
            *Permission.objects.filter(content_type__app_label="predictions", codename__in=QUEUE_PERMISSIONS)
        )


class Migration(migrations.Migration):
    dependencies = [("predictions", "0002_roles")]

    operations = [
        migrations.CreateModel(
            name="ReviewQueueItem",
            fields=[],
            options={
                "verbose_name": "review queue item",
                "verbose_name_plural": "review queue",
                "ordering": ["-score", "pk"],
                "proxy": True,
                "indexes": [],
                "constraints": [],
            },
            bases=("predictions.prediction",),
        ),
        migrations.RunPython(grant_queue_to_analysts, revoke_queue_from_analysts),
    ]
