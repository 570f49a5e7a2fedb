"""The code the course's notebooks share: schedules, data, models, training, sampling, metrics, widgets, grading.

Each module holds one concept; a function moves here once a lesson has derived it, and its
docstring names that lesson. ``python -m helpers doctor`` checks your setup.
"""
