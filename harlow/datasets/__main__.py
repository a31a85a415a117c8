"""Command line tool for dataset folders.

    python -m harlow.datasets generate-faces [--out datasets/faces] [--count 240]
        [--heldout 40] [--seed 0] [--overwrite]
    python -m harlow.datasets import --src DIR --out datasets/NAME
        [--heldout-fraction 0.2] [--crop face|center] [--seed 0] [--skip-bad]
        [--overwrite] [--name NAME]
    python -m harlow.datasets validate DIR

Bad input ends with exit code 1 and a report on stderr, one line per problem. Ctrl-C
(or SIGTERM) stops a command with one line and status 130 (143), leaving nothing
half-written: an import or generation is assembled in a hidden staging folder beside
its destination, removed on the way out.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from harlow.datasets.errors import DatasetError
from harlow.datasets.faces import write_face_dataset
from harlow.datasets.importer import CROP_MODES, import_dataset
from harlow.datasets.loader import default_dataset_path, load_dataset
from harlow.signals import describe_interrupt, install_stop_handlers, interrupt_exit_code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m harlow.datasets", description="Make, import and check image datasets."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    faces = commands.add_parser("generate-faces", help="(re)generate the synthetic face dataset")
    faces.add_argument("--out", default=str(default_dataset_path()), help="dataset folder")
    faces.add_argument("--count", type=int, default=240, help="number of faces")
    faces.add_argument("--heldout", type=int, default=40, help="held-out faces (the last ids)")
    faces.add_argument("--seed", type=int, default=0, help="generator seed")
    faces.add_argument(
        "--overwrite", action="store_true", help="replace a dataset that is not a face dataset"
    )

    imports = commands.add_parser("import", help="turn a folder of images into a dataset")
    imports.add_argument("--src", required=True, help="folder of images (searched recursively)")
    imports.add_argument("--out", required=True, help="dataset folder to write")
    imports.add_argument("--heldout-fraction", type=float, default=0.2, help="held-out share")
    imports.add_argument("--crop", choices=CROP_MODES, default="face", help="square to keep")
    imports.add_argument("--seed", type=int, default=0, help="seed of the held-out draw")
    imports.add_argument("--skip-bad", action="store_true", help="import the good files only")
    imports.add_argument("--overwrite", action="store_true", help="replace an existing dataset")
    imports.add_argument("--name", default=None, help="dataset name (default: folder name)")

    validate = commands.add_parser("validate", help="check a dataset folder")
    validate.add_argument("folder", help="dataset folder")
    return parser


def _generate_faces(args: argparse.Namespace) -> None:
    out = write_face_dataset(args.out, args.count, args.heldout, args.seed, args.overwrite)
    print(
        f"wrote {args.count} faces to {out}: {args.count - args.heldout} train, "
        f"{args.heldout} held-out (seed {args.seed})"
    )


def _import(args: argparse.Namespace) -> None:
    result = import_dataset(
        args.src,
        args.out,
        heldout_fraction=args.heldout_fraction,
        crop=args.crop,
        seed=args.seed,
        skip_bad=args.skip_bad,
        overwrite=args.overwrite,
        name=args.name,
    )
    count = len(result.train_ids) + len(result.heldout_ids)
    print(
        f"imported {count} images into {result.out}: {len(result.train_ids)} train, "
        f"{len(result.heldout_ids)} held-out; a face was found in {result.faces_found}"
    )
    if result.skipped:
        print(f"skipped {len(result.skipped)} bad files:")
        for line in result.skipped:
            print(f"  {line}")


def _validate(args: argparse.Namespace) -> None:
    dataset = load_dataset(args.folder)
    print(
        f"{dataset.root}: dataset {dataset.name!r}, {len(dataset.images)} images "
        f"({len(dataset.train_ids)} train, {len(dataset.heldout_ids)} held-out), "
        "256x256 RGB: OK"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line tool; returns the exit code (0 ok, 1 bad input, 130 or 143
    interrupted by Ctrl-C or SIGTERM)."""
    args = _parser().parse_args(argv)
    commands = {"generate-faces": _generate_faces, "import": _import, "validate": _validate}
    try:
        commands[args.command](args)
    except KeyboardInterrupt as interrupt:  # the staging folder is already removed
        print(
            f"\n{describe_interrupt(interrupt)}: {args.command} stopped; nothing was written",
            file=sys.stderr,
        )
        return interrupt_exit_code(interrupt)
    except DatasetError as e:
        print(f"error: {e.summary}", file=sys.stderr)
        for line in e.problems:
            print(f"  {line}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    install_stop_handlers()  # kill, timeout: clean up as on Ctrl-C (quiet_startup until here)
    sys.exit(main())
