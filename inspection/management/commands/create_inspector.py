from django.core.management.base import BaseCommand, CommandError

from inspection.grading.services import AccountError, create_inspector


class Command(BaseCommand):
    help = "Create an inspector (a user who grades candidates). Prints the password."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--password", help="default: a generated one, printed once")
        parser.add_argument("--email", default="")
        parser.add_argument("--name", default="", help="full name, e.g. 'Vera Rubin'")

    def handle(self, username, password, email, name, **options):
        try:
            user, password = create_inspector(username, password, email=email, full_name=name)
        except AccountError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Created inspector {user.username} with password {password}")
