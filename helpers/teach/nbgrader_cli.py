"""``python -m helpers.teach.nbgrader_cli ARGS``: nbgrader's own command line, as ``python -m nbgrader ARGS`` runs it.

The one difference is how fast it starts: importing ``helpers.teach`` first leaves out jsonschema's IRI format
checker (see ``helpers/teach/__init__.py``), about 1.4 s of nbgrader's 2.4 s start on 2 cores. The grading runs
one nbgrader process per submission (``helpers.teach.jobs``), so a class of 200 saves about 5 minutes of CPU.
"""

from __future__ import annotations

from nbgrader.apps.nbgraderapp import main

if __name__ == "__main__":
    main()
