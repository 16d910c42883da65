"""WSGI entry point: `gunicorn lensfinder.wsgi`."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lensfinder.settings")
application = get_wsgi_application()
