import json

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from classifier.forms import TrainForm
from classifier.models import Network
from classifier.networks import ARCHITECTURES
from classifier.services import NetworkError, settings_for, train_and_register
from core.forms import form_errors


class Command(BaseCommand):
    help = (
        "Train a network on a stamp-set file and add it to the registry (resumes if interrupted)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--architecture", required=True, choices=list(ARCHITECTURES))
        parser.add_argument("--train", required=True, help="labelled stamp-set FITS file")
        parser.add_argument(
            "--val", help="labelled stamp-set for validation AUC and the 1%% FPR threshold"
        )
        parser.add_argument("--name", required=True, help="registry name, e.g. kids-r-cnn")
        parser.add_argument("--epochs", type=int)
        parser.add_argument("--batch-size", type=int)
        parser.add_argument("--lr", type=float, help="learning rate")
        parser.add_argument(
            "--lr-step-epochs", type=int, help="divide the rate by 10 every N epochs"
        )
        parser.add_argument(
            "--patience",
            type=int,
            help="stop after N epochs without a better validation AUC; keep the best epoch",
        )
        parser.add_argument(
            "--stretch", choices=["linear", "asinh"], help="input stretch (default: asinh)"
        )
        parser.add_argument(
            "--pixscale", type=float, help="network input pixel scale, arcsec (default: its own)"
        )
        parser.add_argument(
            "--max-minutes",
            type=float,
            help="time budget: start no epoch after this many minutes; the network is registered "
            "with the epochs run (the best one with --patience)",
        )
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--no-augment", action="store_true")
        parser.add_argument("--device", help="cpu or cuda (default: cuda if present)")
        parser.add_argument(
            "--init-from",
            metavar="NETWORK",
            help="fine-tune: start from this registered network's weights (same architecture; "
            "its stretch and pixel scale are kept)",
        )

    def handle(self, **o):
        # The web form's checks of the inputs both take (a free name, files
        # that exist, sensible settings), with the same messages.
        data = {
            "name": o["name"],
            "architecture": o["architecture"],
            "train_path": o["train"],
            "val_path": o["val"] or "",
            "epochs": o["epochs"],
            "batch_size": o["batch_size"],
            "lr": o["lr"],
            "seed": o["seed"],
        }
        if o["max_minutes"] is not None and not o["max_minutes"] > 0:
            raise CommandError("--max-minutes must be a positive number of minutes.")
        form = TrainForm(data, anywhere=True)
        if not form.is_valid():
            raise CommandError(" ".join(form_errors(form)))
        try:
            parent = None
            if o["init_from"]:
                parent = Network.objects.filter(name=o["init_from"]).first()
                if parent is None:
                    raise NetworkError(
                        f"No network named {o['init_from']!r} to start from: see the Networks page."
                    )
            train_settings = settings_for(
                o["architecture"],
                epochs=o["epochs"],
                batch_size=o["batch_size"],
                lr=o["lr"],
                lr_step_epochs=o["lr_step_epochs"],
                seed=o["seed"],
                augment=not o["no_augment"],
                patience=o["patience"],
                stretch=o["stretch"],
                pixscale_arcsec=o["pixscale"],
            )
            with tqdm(
                total=train_settings.epochs, unit="epoch", disable=o["verbosity"] == 0
            ) as bar:

                def progress(epoch, epochs, loss, val_auc):
                    bar.set_postfix(
                        loss=f"{loss:.4f}", val_auc=f"{val_auc:.4f}" if val_auc else "-"
                    )
                    bar.update(epoch - bar.n)

                network = train_and_register(
                    o["name"],
                    o["train"],
                    train_settings,
                    o["val"],
                    progress=progress,
                    device=o["device"],
                    init_from=parent,
                    max_seconds=None if o["max_minutes"] is None else 60 * o["max_minutes"],
                )
        except NetworkError as exc:
            raise CommandError(str(exc)) from exc
        sha = network.weights_sha256[:12]
        self.stdout.write(f"Registered {network.name} ({network.weights_path}, sha256 {sha}…)")
        calibration = network.calibration
        if calibration and calibration.get("temperature"):
            before, after = calibration["uncalibrated"], calibration["calibrated"]
            self.stdout.write(
                f"Temperature {calibration['temperature']:.4g} on the validation set: NLL "
                f"{before['nll']:.4f} -> {after['nll']:.4f}, ECE {before['ece']:.4f} -> "
                f"{after['ece']:.4f}"
            )
        elif calibration:
            self.stdout.write(f"No temperature: {calibration['error']}")
        if network.evaluation:
            summary = {k: network.evaluation[k] for k in ("auc", "tpr_at_fpr", "threshold_at_fpr")}
            self.stdout.write(json.dumps(summary, indent=2))
