from django.core.management.base import BaseCommand

from inspection.accounts import ensure_user

# Local demo only (make run binds 127.0.0.1): fixed, printed passwords.
DEMO_USERS = [
    ("admin", "lensfinder-admin", {"admin": True}),
    ("inspector1", "lensfinder-inspector1", {"inspector": True}),
    ("inspector2", "lensfinder-inspector2", {"inspector": True}),
]


class Command(BaseCommand):
    help = "Create the demo admin and inspectors; safe to run again (keeps what exists)."

    def handle(self, **options):
        self.stdout.write("Demo logins:")
        for username, password, role in DEMO_USERS:
            user, created = ensure_user(username, password, **role)
            kind = "admin" if role.get("admin") else "inspector"
            shown = password if created else "(existing user: password unchanged)"
            self.stdout.write(f"  {kind:9s}  {username:11s}  {shown}")
