from django.core.management.base import BaseCommand, CommandError

from core.forms import form_errors
from inspection.catalogues import services as catalogues
from inspection.forms import PriorListForm


class Command(BaseCommand):
    help = (
        "Register a prior lens list (CSV, FITS, ECSV or VOTable with RA/Dec, optional name "
        "and grade), or the lenscat catalogue bundled with its package (--lenscat)."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", nargs="?", help="a name of letters, digits, - and _")
        parser.add_argument("path", nargs="?", help="the list's file")
        parser.add_argument("--columns", help="e.g. ra=RAJ2000,dec=DEJ2000,name=ID,grade=Q")
        parser.add_argument("--description", default="")
        parser.add_argument("--lenscat", action="store_true", help="add lenscat as 'lenscat'")

    def handle(self, name, path, columns, description, lenscat, **o):
        if not (lenscat or (name and path)):
            raise CommandError("Give NAME and PATH, or --lenscat.")
        # The web form's checks (name, columns, the file exists), on any path:
        # whoever runs a command may read the file anyway.
        data = {
            "lenscat": lenscat,
            "name": name or "",
            "path": path or "",
            "columns": columns or "",
            "description": description,
        }
        form = PriorListForm(data, anywhere=True)
        if not form.is_valid():
            raise CommandError(" ".join(form_errors(form)))
        data = form.cleaned_data
        try:
            if lenscat:
                prior = catalogues.add_lenscat(data["name"])
            else:
                prior = catalogues.add_prior_list(
                    data["name"], data["path"], data["columns"], data["description"]
                )
        except catalogues.CatalogueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"Prior list {prior.name}: {prior.n_read} rows read, {prior.n_duplicates} duplicates "
            f"merged, {prior.lenses.count()} entries."
        )
