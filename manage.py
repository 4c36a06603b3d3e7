#!/usr/bin/env python
"""Django's command-line utility for fraudsite."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fraudsite.settings")
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        settings.INSTALLED_APPS  # noqa: B018 - reads the settings now, so a bad variable is one line, not a traceback
    except ImproperlyConfigured as exc:
        sys.exit(f"error: {exc} (see Configuration in README.md; DEBUG=1 for local use)")
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
