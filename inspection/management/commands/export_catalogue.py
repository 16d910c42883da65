from django.core.management.base import BaseCommand, CommandError

from inspection.catalogues import services as catalogues
from inspection.models import Campaign, PriorList


class Command(BaseCommand):
    help = (
        "Write a campaign's consensus catalogue (the high-probability sample by default) as "
        "CSV, FITS, ECSV or VOTable (by suffix), with every inspector's grade, total, "
        "grade class, Space Warps and Dawid-Skene posteriors, flags and prior-list matches; "
        "optionally a PNG gallery. Prints the consensus, agreement and prior-list summary."
    )

    def add_arguments(self, parser):
        parser.add_argument("campaign_id", type=int)
        parser.add_argument("--out", help="e.g. catalogue.fits, .csv, .ecsv, .vot")
        parser.add_argument(
            "--selection",
            default="high",
            choices=list(catalogues.SELECTIONS),
            help="which candidates (default: the high-probability catalogue)",
        )
        parser.add_argument("--order", default="total", choices=catalogues.ORDERS)
        parser.add_argument(
            "--prior-list",
            action="append",
            default=None,
            metavar="NAME",
            help="cross-match with this prior list (repeat; default: every list)",
        )
        parser.add_argument(
            "--radius",
            type=float,
            default=catalogues.DEFAULT_RADIUS_ARCSEC,
            help="match radius, arcsec (default 2)",
        )
        parser.add_argument("--gallery", help="also write a PNG contact sheet of the selection")

    def handle(self, campaign_id, out, selection, order, prior_list, radius, gallery, **o):
        campaign = Campaign.objects.select_related("run__survey").filter(pk=campaign_id).first()
        if campaign is None:
            raise CommandError(f"No campaign {campaign_id}.")
        lists = None
        if prior_list:
            lists = list(PriorList.objects.filter(name__in=prior_list))
            missing = set(prior_list) - {p.name for p in lists}
            if missing:
                known = ", ".join(PriorList.objects.values_list("name", flat=True)) or "none"
                raise CommandError(f"No prior list {', '.join(sorted(missing))} (lists: {known}).")
        try:
            cat = catalogues.build(campaign)
            report = catalogues.prior_report(cat, lists, radius)
            agree = catalogues.agreement(cat)
            if out:
                n = catalogues.export_catalogue(cat, out, selection, report, order)
                self.stdout.write(f"Wrote {n} rows ({catalogues.SELECTIONS[selection]}) to {out}")
            if gallery:
                png = catalogues.gallery_png(cat, selection, report, order)
                with open(gallery, "wb") as f:
                    f.write(png)
                self.stdout.write(f"Wrote the gallery to {gallery}")
        except (catalogues.CatalogueError, OSError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"{campaign.name}: {len(cat.sources)} candidates, {int((cat.n_grades > 0).sum())} "
            f"graded by {len(cat.inspector_ids)} inspectors; {int(cat.high.sum())} high "
            f"probability (total >= {campaign.high_total}), {int(cat.vote.sum())} at the "
            f"further-vote total {campaign.vote_total}."
        )
        classes = ", ".join(f"{k} {int((cat.grade_class == k).sum())}" for k in "ABC")
        a, b, c = campaign.class_bounds
        self.stdout.write(
            f"Grade classes by mean grade (A >= {a:g}, B >= {b:g}, C >= {c:g}): {classes}; "
            f"Dawid-Skene P(lens) > 0.5 for {int((cat.p_ds > 0.5).sum())}."
        )
        kappa, alpha = (
            "undefined" if v is None else f"{v:.3f}"
            for v in (agree["fleiss_kappa"], agree["alpha_ordinal"])
        )
        self.stdout.write(
            f"Agreement: Fleiss' kappa {kappa}, Krippendorff's alpha (ordinal) {alpha}, "
            f"{agree['n_disagree']} candidates whose grades differ by 2 or more."
        )
        for r in report.lists:
            self.stdout.write(
                f"Prior list {r['name']}: {r['n']} entries, {r['in_sample']} in the LRG sample, "
                f"{r['selected']} selected by the network, {r['kept']} kept by the inspectors."
            )
        self.stdout.write(f"New high-probability candidates (in no prior list): {report.n_new}")
        if campaign.injections.exists():
            from inspection.completeness.services import campaign_completeness

            row = campaign_completeness(campaign)["overall"]
            low, high = row.end_to_end_interval
            end = "undefined" if row.end_to_end is None else f"{row.end_to_end:.3f}"
            span = "" if low is None else f" ({low:.3f}-{high:.3f})"
            self.stdout.write(
                f"Injected lenses: {row.injected}, {row.passed} passed the network, {row.kept} "
                f"of {row.decided} decided kept by the inspectors; end-to-end completeness "
                f"{end}{span}{', provisional' if row.provisional else ''}."
            )
