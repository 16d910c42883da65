import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from core.stack import Stack, StackError


class Command(BaseCommand):
    help = (
        "Run LensFinder locally: a private Redis under the data dir when REDIS_URL is "
        "unset, one rq worker and the web server. Ctrl-C stops all of them."
    )

    def add_arguments(self, parser):
        parser.add_argument("--addr", default="127.0.0.1:8000", help="host:port of the web server")

    def handle(self, addr, **options):
        stack = Stack(
            settings.BASE_DIR / "manage.py", settings.DATA_DIR, addr=addr, out=self.stdout
        )
        try:
            code = stack.run()
        except StackError as exc:
            raise CommandError(str(exc)) from exc
        sys.exit(code)
