"""nbgrader configuration: run the plain nbgrader commands from the repository root.

solutions/ is nbgrader's source folder and exercises/ its release folder, so
``nbgrader generate_assignment 01_toy_signal --force`` rewrites exercises/01_toy_signal/.
"""
from nbgrader.preprocessors import (
    CheckCellMetadata,
    ClearHiddenTests,
    ClearMarkScheme,
    ClearOutput,
    ComputeChecksums,
    IncludeHeaderFooter,
    InstantiateTests,
    LockCells,
    SaveCells,
)

from helpers.grading import FillInTheBlanks

c = get_config()  # noqa: F821 (injected by traitlets when nbgrader loads this file)

c.CourseDirectory.root = "."
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

# A learner who deletes a graded test cell gets the original back, and it is run.
c.OverwriteCells.add_missing_cells = True
# A cell that runs longer than this is stopped and counts as failing; the notebook goes on.
c.Execute.timeout = 60
