"""The course's infrastructure, for teachers and contributors: grading, sandboxing, notebook execution, the site.

Learners' notebooks never import this package; they use the concept modules of ``helpers``
(``schedules``, ``models``, ``sampling``, ...) and the learner tools (``blanks``, ``quiz``,
``widgets``, ``plotting``). nbgrader, nbclient and jupyter_client are imported only here.
"""
