"""How good are the samples? A digits classifier, class accuracy, Fréchet and kernel distances, the energy distance.

- ``digits_classifier()``: a small MLP fitted (deterministically, in about a second) on the training
  split of helpers.data.digits_split() and shipped in helpers/weights/ (``python scripts/fit_classifier.py``
  writes it); it supplies predictions and 64-dim features.
- ``class_accuracy(x, y)``: the share of generated digits that the classifier reads as the label
  they were asked for (the "classification accuracy" of conditional samples).
- ``digits_frechet_distance(x)``: the Fréchet distance between Gaussians fitted to classifier
  features of generated and real digits, the recipe of FID (Heusel et al. 2017) with our small
  classifier in place of Inception. Compare it with ``real_frechet_baseline(n)``, the distance
  between two real samples of the same size: finite samples never reach 0.
- ``digits_kernel_distance(x)``: KID, an unbiased MMD on the same features, with its standard error
  over subsets; unlike FD it does not favour a set for being less spread (Bińkowski et al. 2018);
- ``energy_distance(a, b)``: a distance between 2D point clouds (Székely & Rizzo 2013);
  ``energy_distance_se(a, b)`` gives it with a standard error over disjoint folds, as KID has.
What guidance trades (Module 05) is measured with these in helpers.guidance_metrics.
Derived in notebooks/03_training_objective.ipynb.
"""

from __future__ import annotations

from helpers.metrics.classifier import (  # noqa: F401
    CLASSIFIER_SEED,
    FEATURE_DIM,
    DigitsClassifier,
    class_accuracy,
    classifier_held_out_accuracy,
    digit_features,
    digits_classifier,
    fit_classifier,
)
from helpers.metrics.distances import (  # noqa: F401
    digits_frechet_distance,
    digits_kernel_distance,
    energy_distance,
    energy_distance_se,
    frechet_distance,
    frechet_distance_from_stats,
    kernel_distance,
    real_frechet_baseline,
    reference_digits,
)
