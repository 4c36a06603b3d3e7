"""WSGI entry point: gunicorn fraudsite.wsgi."""

import gc
import os

from django.core.wsgi import get_wsgi_application

from fraudsite.checkpoints import checkpoint_in_background

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fraudsite.settings")
application = get_wsgi_application()
checkpoint_in_background()

# The garbage collector, tuned for a server: what is loaded by now (Django, DRF, numpy, the app) lives as long
# as the process, so it leaves the collections' scans (freeze), and the youngest generation is collected
# after 7,000 allocations rather than 700, a few times a request. Together a sixth to a quarter less CPU
# a scoring request, paired runs (bench/RESULTS.md, issue 13); the cyclic garbage between two collections
# stays a few MB.
gc.collect()
gc.freeze()
gc.set_threshold(7_000, 10, 10)
