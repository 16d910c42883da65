from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from simulations import audit
from simulations.display import write_contact_sheet
from simulations.errors import SimulationError
from simulations.field import simulate_field
from simulations.generate import parse_psf_range, simulate_stampset
from simulations.semireal import semireal_stampset
from simulations.stampset import StampSetError, read_stampset
from simulations.surveys import SURVEYS


class Command(BaseCommand):
    help = (
        "Simulate a labelled stamp set (lenses and non-lenses) for a survey, as in "
        "He et al. 2020 Section 3, into a stamp-set FITS file. Same seed, same bytes."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--survey",
            default="kids-r",
            help=f"one of {', '.join(SURVEYS)}, or a JSON file with a survey configuration",
        )
        parser.add_argument("--lenses", type=int, default=0, help="number of lenses")
        parser.add_argument("--nonlenses", type=int, default=0, help="number of non-lenses")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--psf-fwhm", help="PSF FWHM range in arcsec, LOW,HIGH")
        parser.add_argument(
            "--semi-real-transform",
            choices=["dihedral", "rotate-crop"],
            default="dihedral",
            help="how every semi-real LRG is turned, both classes alike: the 8 exact symmetries "
            "(default) or He et al.'s rotation and crop (resampled)",
        )
        parser.add_argument(
            "--semi-real",
            metavar="LRGS.fits",
            help="make a semi-real set from this stamp set of real LRG stamps (He et al. 4.2)",
        )
        parser.add_argument("--out", help="output stamp-set FITS file")
        parser.add_argument(
            "--field",
            metavar="DIR",
            help="instead, write a simulated g,r,i survey field (tiles, catalogue, truth) to DIR; "
            "--lenses sets how many of its LRGs are lensed (default 8)",
        )
        parser.add_argument(
            "--compile",
            choices=["auto", "yes", "no"],
            default="auto",
            help="fuse the rendering kernels with torch.compile (auto: for 10,000 stamps or more)",
        )
        parser.add_argument(
            "--device", help="torch device, e.g. cpu or cuda (default: cuda if present)"
        )
        parser.add_argument(
            "--contact-sheet",
            metavar="PNG",
            help="also write a PNG with a row of stamps per kind and subkind",
        )

    def handle(self, survey, lenses, nonlenses, seed, psf_fwhm, out, **options):
        if options["field"]:
            try:
                folder, manifest = simulate_field(options["field"], seed, n_lenses=lenses or 8)
            except SimulationError as exc:
                raise CommandError(str(exc)) from exc
            counts = ", ".join(f"{n} {kind}" for kind, n in manifest["counts"].items())
            self.stdout.write(f"Wrote a simulated field to {folder}: {counts}")
            return
        if not out:
            raise CommandError("Give --out FILE.fits (or --field DIR for a survey field).")
        try:
            psf = parse_psf_range(psf_fwhm) if psf_fwhm else None
            with tqdm(
                total=lenses + nonlenses, unit="stamp", disable=options["verbosity"] == 0
            ) as bar:

                def progress(done, total):
                    bar.update(done - bar.n)

                compile = {"auto": None, "yes": True, "no": False}[options["compile"]]
                if options["semi_real"]:
                    path = semireal_stampset(
                        options["semi_real"],
                        lenses,
                        nonlenses,
                        seed,
                        out,
                        psf,
                        progress,
                        transform=options["semi_real_transform"],
                    )
                else:
                    path = simulate_stampset(
                        survey,
                        lenses,
                        nonlenses,
                        seed,
                        out,
                        psf,
                        progress,
                        compile,
                        options["device"],
                    )
        except (SimulationError, StampSetError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Wrote {lenses} lenses and {nonlenses} non-lenses to {path}")
        result = audit.from_header(read_stampset(path).header)
        quiet = options["verbosity"] == 0
        if result and not quiet:
            self.stdout.write("Shortcut audit (AUC of single summaries, lens vs non-lens):")
            self.stdout.write("\n".join(audit.report_lines(result)))
        elif not quiet:
            self.stdout.write("No shortcut audit: it needs both lenses and non-lenses.")
        for problem in audit.problems(result) if result else []:
            self.stderr.write(f"Warning: {problem}")
        if options["contact_sheet"]:
            sheet = write_contact_sheet(path, options["contact_sheet"])
            self.stdout.write(f"Wrote a contact sheet to {sheet}")
