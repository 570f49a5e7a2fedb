"""``python -m helpers.teach.scratch FOLDER``: a course folder for one shard (nbgrader's config and the solutions).

The grading command writes its gradebook, submitted/, autograded/, feedback/ and summary there, and never
into the repository: each shard of a class graded on an engine (deploy/) gets its own.
"""

from __future__ import annotations

import sys
from pathlib import Path

from helpers.teach.jobs import scratch_course

if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: python -m helpers.teach.scratch FOLDER")
    print(scratch_course(Path(sys.argv[1])))
