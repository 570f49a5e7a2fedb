"""Moved to :mod:`helpers.teach.classroom`; ``python -m helpers.classroom`` works for one more release (deprecated)."""

from helpers.teach.classroom import *  # noqa: F401,F403
from helpers.teach.classroom import main
from helpers.teach.intake import student_from_name  # noqa: F401

if __name__ == "__main__":
    main()
