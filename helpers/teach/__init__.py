"""The course's infrastructure, for teachers and contributors: grading, sandboxing, notebook execution, the site.

Learners' notebooks never import this package; they use the concept modules of ``helpers``
(``schedules``, ``models``, ``sampling``, ...) and the learner tools (``blanks``, ``quiz``,
``widgets``, ``plotting``). nbgrader, nbclient and jupyter_client are imported only here.
"""

import sys

# nbformat imports jsonschema, and jsonschema imports every optional format checker it finds. The one for IRIs,
# rfc3987_syntax (installed with nbformat's jsonschema[format-nongpl]), compiles 38 Lark grammars on import: about
# 1.4 s of the 2.4 s an nbgrader process takes to start here (jsonschema issue #1428). No schema that nbformat,
# nbgrader or Jupyter uses has an "iri" format, so this package's processes, and the nbgrader processes it starts
# (helpers.teach.nbgrader_cli), leave that checker out: jsonschema then skips it as it skips any checker whose
# library is missing. Nothing else changes.
sys.modules.setdefault("rfc3987_syntax", None)
