"""Prediction.features becomes a list of values in the model version's feature order.

Stored {name: value} objects are rewritten as [value, ...] in model_version.feature_names order (and back
when migrating backwards). A row whose names are not its version's keeps its values in stored order.
"""

from django.db import migrations, models

BATCH = 1_000


def _rewrite(apps, convert) -> None:
    Prediction = apps.get_model("predictions", "Prediction")  # historical model: a plain manager, no audit guard
    names_by_version = dict(apps.get_model("predictions", "ModelVersion").objects.values_list("pk", "feature_names"))
    pks = list(Prediction.objects.order_by("pk").values_list("pk", flat=True))
    for first in range(0, len(pks), BATCH):
        batch = list(Prediction.objects.filter(pk__in=pks[first : first + BATCH]).only("features", "model_version_id"))
        for prediction in batch:
            prediction.features = convert(prediction.features, names_by_version[prediction.model_version_id])
        Prediction.objects.bulk_update(batch, ["features"])


def _to_list(features, names):
    if not isinstance(features, dict):
        return features
    if set(features) == set(names):
        return [features[name] for name in names]
    return list(features.values())


def _to_dict(features, names):
    if not isinstance(features, list):
        return features
    return dict(zip(names, features, strict=False))


def forwards(apps, schema_editor) -> None:
    _rewrite(apps, _to_list)


def backwards(apps, schema_editor) -> None:
    _rewrite(apps, _to_dict)


class Migration(migrations.Migration):
    dependencies = [
        ("predictions", "0003_reviewqueue"),
    ]

    operations = [
        migrations.AlterField(
            model_name="prediction",
            name="features",
            field=models.JSONField(
                help_text="the exact feature vector: its values, in model_version.feature_names order"
            ),
        ),
        migrations.RunPython(forwards, backwards),
    ]
