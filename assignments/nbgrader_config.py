"""nbgrader's settings for the course's graded assignments (https://nbgrader.readthedocs.io).

The instructors' notebooks live in source/<assignment>/; `make assignments` writes the students'
version (solutions and hidden tests stripped) to release/. Graded submissions go to
submitted/<student>/<assignment>/ and `nbgrader autograde <assignment>` scores them.
"""

c = get_config()  # noqa: F821 (nbgrader defines it when it reads this file)

c.CourseDirectory.course_id = "dlg-course"
c.CourseDirectory.db_url = "sqlite:///gradebook.db"

# What a student sees in place of a solution.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# The attacks take seconds to minutes on a laptop CPU; a cell gets ten minutes.
c.ExecutePreprocessor.timeout = 600
