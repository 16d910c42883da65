from django.conf import settings
from django.core.management.base import BaseCommand

from inspection.accounts import ensure_user
from simulations.field import simulate_field

# Local demo only (make run binds 127.0.0.1): fixed, printed passwords.
DEMO_USERS = [
    ("admin", "lensfinder-admin", {"admin": True}),
    ("inspector1", "lensfinder-inspector1", {"inspector": True}),
    ("inspector2", "lensfinder-inspector2", {"inspector": True}),
]
DEMO_FIELD_SEED = 2020


def demo_field_dir():
    return settings.DATA_DIR / "demo" / "field"


class Command(BaseCommand):
    help = "Create the demo users and data; safe to run again (keeps what exists)."

    def handle(self, **options):
        self.stdout.write("Demo logins:")
        for username, password, role in DEMO_USERS:
            user, created = ensure_user(username, password, **role)
            kind = "admin" if role.get("admin") else "inspector"
            shown = password if created else "(existing user: password unchanged)"
            self.stdout.write(f"  {kind:9s}  {username:11s}  {shown}")

        folder = demo_field_dir()
        if (folder / "field.json").exists():
            self.stdout.write(f"Demo survey field: {folder} (kept)")
        else:
            folder.parent.mkdir(parents=True, exist_ok=True)
            _, manifest = simulate_field(folder, seed=DEMO_FIELD_SEED)
            counts = ", ".join(f"{n} {kind}" for kind, n in manifest["counts"].items())
            self.stdout.write(f"Demo survey field: {folder} ({counts})")
