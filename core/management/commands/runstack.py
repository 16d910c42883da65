import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from core.auth import demo_logins_in_use, is_loopback
from core.stack import Stack, StackError


class Command(BaseCommand):
    help = (
        "Run LensFinder locally: a private Redis under the data dir when REDIS_URL is "
        "unset, one rq worker and the web server. Ctrl-C stops all of them."
    )

    def add_arguments(self, parser):
        parser.add_argument("--addr", default="127.0.0.1:8000", help="host:port of the web server")

    def handle(self, addr, **options):
        host = addr.rpartition(":")[0] or "127.0.0.1"
        if not is_loopback(host):
            self._check_reachable_safely(addr)
        stack = Stack(
            settings.BASE_DIR / "manage.py", settings.DATA_DIR, addr=addr, out=self.stdout
        )
        try:
            code = stack.run()
        except StackError as exc:
            raise CommandError(str(exc)) from exc
        sys.exit(code)

    def _check_reachable_safely(self, addr):
        """Others can reach a server beyond loopback: the demo accounts'
        published passwords must be gone first (the login refuses them from
        other machines anyway; refusing to start says so at once)."""
        published = demo_logins_in_use()
        if published:
            names = ", ".join(published)
            raise CommandError(
                f"Not serving on {addr}: the demo accounts {names} still have the passwords "
                "the README publishes. Give each a password of its own "
                f"(manage.py changepassword {published[0]}) or delete them in Django admin, "
                "or serve on 127.0.0.1 only."
            )
        if all(is_loopback(h) for h in settings.ALLOWED_HOSTS):
            self.stdout.write(
                f"Serving on {addr}, but ALLOWED_HOSTS={','.join(settings.ALLOWED_HOSTS)}: "
                "set ALLOWED_HOSTS to the names others use for this machine, or they get 400."
            )
