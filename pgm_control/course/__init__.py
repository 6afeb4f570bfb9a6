"""Course kit: graded homework (Otter Assign master notebooks in ``assignments/``), the grading checks
(:mod:`pgm_control.course.checks`) and ``pgm-control homework`` (:mod:`pgm_control.course.cli`).
See README.md beside this file, the instructors' page."""
