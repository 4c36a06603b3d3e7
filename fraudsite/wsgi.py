"""WSGI entry point: gunicorn fraudsite.wsgi."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fraudsite.settings")
application = get_wsgi_application()
