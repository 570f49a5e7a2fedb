"""Moved to :mod:`helpers.teach.colab`; this path keeps working for one release (deprecated)."""

from helpers.teach.colab import BRANCH, DEFAULT_REPO, REPO_PATTERN, badge, point_at, setup_cell  # noqa: F401
