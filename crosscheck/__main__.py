"""``python -m crosscheck --survey kids-r --lenses N --nonlenses N --seed S --out FILE``:
a labelled test set from the independent lenstronomy renderer."""

import argparse
import sys

from tqdm import tqdm

from crosscheck.lenstronomy_sets import SURVEYS, CrosscheckError, make_set


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m crosscheck", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--survey", default="kids-r", choices=list(SURVEYS))
    parser.add_argument("--lenses", type=int, default=0)
    parser.add_argument("--nonlenses", type=int, default=0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, help="processes (default: all cores)")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    try:
        with tqdm(total=args.lenses + args.nonlenses, unit="stamp") as bar:
            path = make_set(
                args.survey,
                args.lenses,
                args.nonlenses,
                args.seed,
                args.out,
                args.workers,
                lambda done, _: bar.update(done - bar.n),
            )
    except CrosscheckError as exc:
        parser.exit(2, f"error: {exc}\n")
    print(f"Wrote {args.lenses} lenses and {args.nonlenses} non-lenses to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
