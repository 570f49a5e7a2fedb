"""Moved to :mod:`helpers.teach.doctor`; this path keeps working for one release (deprecated)."""

from helpers.teach.doctor import *  # noqa: F401,F403
from helpers.teach.doctor import doctor, main  # noqa: F401
