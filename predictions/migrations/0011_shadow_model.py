"""The challenger model: ModelVersion.is_challenger (at most one) and the ShadowPrediction audit table, which
refuses UPDATE and DELETE (but purge_audit's) with the triggers of 0009."""

import importlib

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models

_TRIGGERS = importlib.import_module("predictions.migrations.0009_audit_triggers")
SHADOW = "predictions_shadowprediction"


def statements(vendor: str) -> list[str]:
    """0009's append-only triggers on the shadow table (0009's functions on PostgreSQL)."""
    if vendor == "sqlite":
        return _TRIGGERS._sqlite(SHADOW)
    if vendor == "postgresql":
        return _TRIGGERS._postgres(SHADOW, "fraudsite_refuse_audit_change")
    return []


def drop_statements(vendor: str) -> list[str]:
    if vendor == "sqlite":
        return [f"DROP TRIGGER IF EXISTS {SHADOW}_{suffix}" for suffix in ("no_update", "no_delete")]
    if vendor == "postgresql":
        return [f"DROP TRIGGER IF EXISTS {SHADOW}_{suffix} ON {SHADOW}" for suffix in ("append_only", "no_truncate")]
    return []


def create_triggers(apps, schema_editor):
    for sql in statements(schema_editor.connection.vendor):
        schema_editor.execute(sql, params=None)


def drop_triggers(apps, schema_editor):
    for sql in drop_statements(schema_editor.connection.vendor):
        schema_editor.execute(sql, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("predictions", "0010_prediction_latest_index"),
    ]

    operations = [
        migrations.CreateModel(
            name="ShadowPrediction",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("score", models.FloatField()),
                (
                    "decision",
                    models.CharField(
                        choices=[("approve", "Approve"), ("review", "Review"), ("decline", "Decline")],
                        help_text="what the challenger would decide",
                        max_length=8,
                    ),
                ),
                ("thresholds", models.JSONField(help_text="the challenger's thresholds")),
                ("features", models.JSONField(help_text="the feature vector, in model_version.feature_names order")),
                (
                    "reasons",
                    models.JSONField(default=list, help_text="[{feature, value, contribution}], strongest first"),
                ),
                ("latency_ms", models.FloatField()),
                ("scored_at", models.DateTimeField(default=django.utils.timezone.now)),
                (
                    "digest",
                    models.CharField(
                        editable=False,
                        help_text="HMAC-SHA256 of the row's content under FRAUDSITE_AUDIT_KEY (services/integrity.py)",
                        max_length=64,
                    ),
                ),
            ],
            options={
                "ordering": ["-scored_at"],
            },
        ),
        migrations.AddField(
            model_name="modelversion",
            name="is_challenger",
            field=models.BooleanField(
                default=False,
                help_text="scored beside the active model on every request, stored as shadow, never deciding",
            ),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="action",
            field=models.CharField(
                choices=[
                    ("label.set", "label set"),
                    ("model.activated", "model activated"),
                    ("model.challenger", "challenger model set"),
                    ("client.created", "API client created"),
                    ("client.rotated", "API client key rotated"),
                    ("client.revoked", "API client revoked"),
                    ("audit.purged", "audit rows purged"),
                ],
                max_length=32,
            ),
        ),
        migrations.AddConstraint(
            model_name="modelversion",
            constraint=models.UniqueConstraint(
                condition=models.Q(("is_challenger", True)),
                fields=("is_challenger",),
                name="at_most_one_challenger_model",
            ),
        ),
        migrations.AddField(
            model_name="shadowprediction",
            name="model_version",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="shadow_predictions",
                to="predictions.modelversion",
            ),
        ),
        migrations.AddField(
            model_name="shadowprediction",
            name="request",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="shadow_predictions",
                to="predictions.scoringrequest",
            ),
        ),
        migrations.AddField(
            model_name="shadowprediction",
            name="transaction",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="shadow_predictions",
                to="predictions.transaction",
            ),
        ),
        migrations.AddIndex(
            model_name="shadowprediction",
            index=models.Index(fields=["scored_at"], name="shadow_scored_at"),
        ),
        migrations.AddIndex(
            model_name="shadowprediction",
            index=models.Index(fields=["model_version", "transaction"], name="shadow_version_transaction"),
        ),
        migrations.RunPython(create_triggers, drop_triggers),
    ]
