"""Fit the course's digits classifier and write helpers/weights/digits_classifier.safetensors.

    python scripts/fit_classifier.py              # from the repository root
    python scripts/fit_classifier.py --out FILE   # somewhere else

helpers.metrics.fit_classifier on the training split of helpers.data.digits_split(): 300 steps of full-batch
Adam (lr 1e-2, weight decay 1e-4) on cross-entropy with Gaussian pixel noise of std 0.2, torch seed 0, on one
thread (the thread count changes float rounding). About a second on a CPU. helpers.metrics.digits_classifier
loads the file; tests/test_metrics.py fits the classifier again and checks that it matches.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from safetensors.torch import save_file

from helpers.data import digits_split
from helpers.metrics.classifier import SHIPPED, fit_classifier


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=SHIPPED, help=f"where to write it (default {SHIPPED})")
    out = parser.parse_args(argv).out
    split = digits_split()
    clf = fit_classifier(split.x_train, split.y_train)
    save_file({k: v.contiguous() for k, v in clf.state_dict().items()}, str(out))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
