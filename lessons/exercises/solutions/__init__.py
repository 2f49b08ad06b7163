"""Reference solutions of the exercises: the tests check that each one passes its checker.

Try the exercise first (and its hints: ``bash tools/course.sh --hint NAME``); reading
the answer teaches less than writing it.
"""
