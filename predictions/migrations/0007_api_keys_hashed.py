"""API keys are stored hashed: every DRF authtoken key becomes a knox key with the same value, then the
plain keys are deleted with their table. A client keeps working with the key it has until it is rotated.

knox stores a key's first 15 characters (to find the row) and its SHA-512 (to check it); see
services/clients.py. The old table is read with SQL because rest_framework.authtoken is no longer an
installed app.
"""

import hashlib

from django.db import migrations

KNOX_PREFIX_LENGTH = 15  # knox.settings.CONSTANTS.TOKEN_KEY_LENGTH


def hash_existing_keys(apps, schema_editor):
    connection = schema_editor.connection
    if "authtoken_token" not in connection.introspection.table_names():
        return
    AuthToken = apps.get_model("knox", "AuthToken")
    with connection.cursor() as cursor:
        cursor.execute("SELECT key, user_id, created FROM authtoken_token")
        rows = cursor.fetchall()
    AuthToken.objects.bulk_create(
        AuthToken(
            digest=hashlib.sha512(key.encode()).hexdigest(),
            token_key=key[:KNOX_PREFIX_LENGTH],
            user_id=user_id,
            created=created,
            expiry=None,
        )
        for key, user_id, created in rows
    )
    schema_editor.execute("DROP TABLE authtoken_token")


class Migration(migrations.Migration):
    dependencies = [
        ("predictions", "0006_audit_event"),
        ("knox", "0009_extend_authtoken_field"),
    ]

    operations = [migrations.RunPython(hash_existing_keys, migrations.RunPython.noop, elidable=False)]
