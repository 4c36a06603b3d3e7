"""WSGI entry point: gunicorn fraudsite.wsgi."""

import os

from django.core.wsgi import get_wsgi_application

from fraudsite.checkpoints import checkpoint_in_background

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fraudsite.settings")
application = get_wsgi_application()
checkpoint_in_background()
