"""nbgrader configuration: run the plain nbgrader commands from the repository root.

solutions/ is nbgrader's source folder and exercises/ its release folder, so
``nbgrader generate_assignment 01_toy_signal --force`` rewrites exercises/01_toy_signal/.
"""

import os
import shutil
import sys
from pathlib import Path

from nbconvert.preprocessors import ClearMetadataPreprocessor, CSSHTMLHeaderPreprocessor
from nbgrader.preprocessors import (
    AssignLatePenalties,
    CheckCellMetadata,
    ClearHiddenTests,
    ClearMarkScheme,
    ClearOutput,
    ComputeChecksums,
    GetGrades,
    IgnorePattern,
    IncludeHeaderFooter,
    InstantiateTests,
    LimitOutput,
    LockCells,
    OverwriteCells,
    OverwriteKernelspec,
    SaveAutoGrades,
    SaveCells,
)

from helpers.teach.integrity import InjectIntegrityChecks, ReadIntegrityChecks
from helpers.teach.preprocessors import (
    DeduplicateGradeIds,
    FillInTheBlanks,
    HideHiddenTests,
    SandboxedExecute,
    StderrInTestsIsOutput,
)

# nbgrader makes a new gradebook by running the `alembic` command by name (nbgrader.api.get_alembic_version). Run as
# `.venv/bin/nbgrader ...` without an activated environment, as the README writes it, that command is not on PATH:
# put the scripts folder of the Python running nbgrader first, where pip installed alembic beside nbgrader.
if shutil.which("alembic") is None:
    os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")

c = get_config()  # noqa: F821 (injected by traitlets when nbgrader loads this file)

c.CourseDirectory.root = str(Path(__file__).resolve().parent)  # the folder holding this file
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "exercises"
c.CourseDirectory.db_url = "sqlite:///gradebook.db"

# nbgrader's own pipeline, with ClearSolutions replaced by its fill-in-the-blank subclass.
c.GenerateAssignment.preprocessors = [
    IncludeHeaderFooter,
    InstantiateTests,
    LockCells,
    FillInTheBlanks,
    ClearOutput,
    CheckCellMetadata,
    ComputeChecksums,
    SaveCells,
    ClearHiddenTests,
    ClearMarkScheme,
    ComputeChecksums,
    CheckCellMetadata,
]

# nbgrader's autograde pipeline, hardened (see helpers/teach/): a duplicated graded cell no longer
# drops the student; each kernel runs in a bubblewrap sandbox (SandboxedExecute; pass
# --SandboxedExecute.sandbox=False to grade trusted notebooks without one); probes and canaries
# injected around the tests detect a kernel the learner's code tampered with; and stderr noise
# from the learner's code does not zero a test cell they did not write.
c.Autograde.sanitize_preprocessors = [
    ClearOutput,
    DeduplicateGradeIds,
    OverwriteKernelspec,
    OverwriteCells,
    CheckCellMetadata,
]
c.Autograde.autograde_preprocessors = [
    InjectIntegrityChecks,
    SandboxedExecute,
    StderrInTestsIsOutput,
    ReadIntegrityChecks,
    IgnorePattern,
    ClearMetadataPreprocessor,
    LimitOutput,
    SaveAutoGrades,
    AssignLatePenalties,
    CheckCellMetadata,
]

# Feedback pages are returned to learners (nbgrader's release_feedback): they show each test's points,
# result and message, never the hidden tests (autograded/, the teacher's copy, keeps them).
c.GenerateFeedback.preprocessors = [GetGrades, HideHiddenTests, CSSHTMLHeaderPreprocessor]

# A learner who deletes a graded test cell gets the original back, and it is run.
c.OverwriteCells.add_missing_cells = True
# A cell that runs longer than this is stopped and counts as failing; the notebook goes on.
c.Execute.timeout = 60  # SandboxedExecute is an Execute, so this applies to it
