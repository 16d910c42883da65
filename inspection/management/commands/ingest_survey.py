import dataclasses

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from inspection.ingest.band_names import IngestError, parse_tile_args
from inspection.ingest.lrg_cuts import LRGCuts, funnel_lines
from inspection.ingest.services import DEFAULT_STAMP_PX, ingest_survey

CUT_FIELDS = [f for f in dataclasses.fields(LRGCuts)]


class Command(BaseCommand):
    help = (
        "Ingest a survey: read its catalogue, select LRGs (He et al. 2020 cuts, every "
        "threshold an option), cut g,r,i stamps from the tiles; prints the funnel."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", help="a new survey name, e.g. kids-dr3")
        parser.add_argument(
            "--catalog",
            "--catalogue",
            dest="catalog",
            help="FITS, VOTable (.vot/.xml), ECSV or CSV",
        )
        parser.add_argument(
            "--tile",
            action="append",
            default=[],
            metavar="BAND=FILE",
            help="an image tile of one band (repeat for bands and tiles)",
        )
        parser.add_argument("--stamps", help="a pre-cut stamp set (with ra, dec) instead of tiles")
        parser.add_argument(
            "--columns", help="catalogue columns, e.g. ra=ALPHA_J2000,dec=DELTA_J2000"
        )
        parser.add_argument("--stamp-size", type=int, default=DEFAULT_STAMP_PX, help="pixels")
        cuts = parser.add_argument_group("LRG cuts (defaults: docs/design.md, He et al. 2020)")
        defaults = LRGCuts()
        for f in CUT_FIELDS:
            flag = "--" + f.name.replace("_", "-")
            value = getattr(defaults, f.name)
            if isinstance(value, bool):
                cuts.add_argument(
                    flag,
                    dest=f.name,
                    default=None,
                    choices=["yes", "no"],
                    help=f"default: {'yes' if value else 'no'}",
                )
            else:
                cuts.add_argument(
                    flag, dest=f.name, type=type(value), default=None, help=f"default: {value}"
                )

    def handle(self, name, **o):
        overrides = {}
        for f in CUT_FIELDS:
            if o.get(f.name) is not None:
                v = o[f.name]
                overrides[f.name] = (
                    (v == "yes") if isinstance(getattr(LRGCuts(), f.name), bool) else v
                )
        try:
            cuts = LRGCuts(**overrides)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        bars = {}

        def progress(stage, done, total):
            if stage not in bars:
                unit = "row" if stage == "catalogue" else "stamp"
                bars[stage] = tqdm(desc=stage, unit=unit, disable=o["verbosity"] == 0)
            bar = bars[stage]
            bar.total = total
            bar.update(done - bar.n)

        try:
            survey = ingest_survey(
                name,
                catalogue=o["catalog"],
                tiles=parse_tile_args(o["tile"]),
                stamps=o["stamps"],
                columns=o["columns"],
                lrg_cuts=cuts,
                stamp_size=o["stamp_size"],
                progress=progress,
            )
        except IngestError as exc:
            raise CommandError(str(exc)) from exc
        finally:
            for bar in bars.values():
                bar.close()
        self.stdout.write(
            f"Survey {survey.name}: bands {survey.bands}, "
            f"{survey.pixscale_arcsec:.4f} arcsec/px, {survey.stamp_size} px stamps"
        )
        self.stdout.write("Funnel:")
        for line in funnel_lines(survey.funnel):
            self.stdout.write(line)
        n = survey.stamp_counts()
        self.stdout.write(
            f"Sources: {n['lrgs']} LRGs, {n['refined']} refined; {n['edge']} stamps padded "
            f"at a tile edge, {n['outside']} outside every tile"
        )
