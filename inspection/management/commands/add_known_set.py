from django.core.management.base import BaseCommand, CommandError

from inspection.grading import services as grading
from inspection.models import TrainingPolicy


class Command(BaseCommand):
    help = (
        "Register known items for inspector training and campaigns: a labelled stamp set, "
        "or FITS images of real lenses (--images)."
    )

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("files", nargs="+", help="one stamp-set file, or FITS images")
        parser.add_argument("--images", action="store_true", help="the files are FITS images")
        parser.add_argument("--non-lenses", action="store_true", help="the images are non-lenses")
        parser.add_argument("--pixscale", type=float, help="arcsec per pixel of the images")
        parser.add_argument("--description", default="")

    def handle(self, name, files, **o):
        from django.conf import settings

        try:
            if o["images"]:
                known = grading.known_set_from_images(
                    name,
                    files,
                    is_lens=not o["non_lenses"],
                    pixscale_arcsec=o["pixscale"],
                    folder=settings.DATA_DIR / "known" / name,
                    description=o["description"],
                )
            elif len(files) != 1:
                raise CommandError("Give one stamp-set file (or --images with FITS images).")
            else:
                known = grading.add_known_set(name, files[0], o["description"])
        except grading.GradingError as exc:
            raise CommandError(str(exc)) from exc
        TrainingPolicy.current().known_sets.add(known)
        lenses = known.items.filter(is_lens=True).count()
        training = known.items.filter(for_training=True).count()
        self.stdout.write(
            f"Known set {known.name}: {known.items.count()} items ({lenses} lenses; "
            f"{training} for training, the rest to mix into campaigns)"
        )
