"""Digests on every audit row, the seals' table, and the purge permit (services/integrity.py).

Rows stored before this migration get their digest here, under the FRAUDSITE_AUDIT_KEY of the environment
that runs it: from then on verify_audit holds them to what they were at this moment.
"""

import django.utils.timezone
from django.db import migrations, models


MODELS = {
    "transaction": "Transaction",
    "request": "ScoringRequest",
    "prediction": "Prediction",
    "review": "Review",
    "event": "AuditEvent",
}
CHUNK = 2_000


def sign_stored_rows(apps, schema_editor):
    from predictions.services.integrity import KINDS_BY_NAME, digest

    for name, model_name in MODELS.items():
        model = apps.get_model("predictions", model_name)
        content = KINDS_BY_NAME[name].content
        rows = []
        for row in model.objects.order_by("pk").iterator(chunk_size=CHUNK):
            row.digest = digest(content(row))
            rows.append(row)
            if len(rows) == CHUNK:
                model.objects.bulk_update(rows, ["digest"])
                rows = []
        model.objects.bulk_update(rows, ["digest"])


class Migration(migrations.Migration):

    dependencies = [
        ('predictions', '0007_api_keys_hashed'),
    ]

    operations = [
        migrations.CreateModel(
            name='AuditPurgePermit',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('granted_at', models.DateTimeField(default=django.utils.timezone.now)),
            ],
        ),
        migrations.AddField(
            model_name='auditevent',
            name='digest',
            field=models.CharField(default='', editable=False, help_text="HMAC-SHA256 of the row's content under FRAUDSITE_AUDIT_KEY (services/integrity.py)", max_length=64),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name='prediction',
            name='digest',
            field=models.CharField(default='', editable=False, help_text="HMAC-SHA256 of the row's content under FRAUDSITE_AUDIT_KEY (services/integrity.py)", max_length=64),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name='review',
            name='digest',
            field=models.CharField(default='', editable=False, help_text="HMAC-SHA256 of the row's content under FRAUDSITE_AUDIT_KEY (services/integrity.py)", max_length=64),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name='scoringrequest',
            name='digest',
            field=models.CharField(default='', editable=False, help_text="HMAC-SHA256 of the row's content under FRAUDSITE_AUDIT_KEY (services/integrity.py)", max_length=64),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name='transaction',
            name='digest',
            field=models.CharField(default='', editable=False, help_text="HMAC-SHA256 of the row's content under FRAUDSITE_AUDIT_KEY (services/integrity.py)", max_length=64),
            preserve_default=False,
        ),
        migrations.CreateModel(
            name='AuditSeal',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(help_text='transaction, request, prediction, review or event', max_length=16)),
                ('first_pk', models.BigIntegerField()),
                ('last_pk', models.BigIntegerField()),
                ('pk_ranges', models.JSONField(help_text='[[first, last], ...]: the primary keys sealed, as closed ranges')),
                ('count', models.PositiveIntegerField()),
                ('root', models.CharField(help_text="sha256 of the sealed rows' digests, in primary key order", max_length=64)),
                ('first_time', models.DateTimeField()),
                ('last_time', models.DateTimeField()),
                ('sealed_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('previous', models.CharField(help_text="the digest of the seal before this one; '' for the first", max_length=64)),
                ('digest', models.CharField(editable=False, help_text="HMAC-SHA256 of the row's content under FRAUDSITE_AUDIT_KEY (services/integrity.py)", max_length=64)),
            ],
            options={
                'ordering': ['pk'],
                'constraints': [models.UniqueConstraint(fields=('previous',), name='seal_chain_one_successor'), models.UniqueConstraint(fields=('kind', 'first_pk'), name='seal_kind_first_pk')],
            },
        ),
        migrations.RunPython(sign_stored_rows, migrations.RunPython.noop),
    ]
