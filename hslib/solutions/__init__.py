"""Reference solutions of the exercises, for teachers and the grader (`python -m hslib.grade`). Students work in
notebook 09's stub; the book renders the executed notebooks only, and notebook 09 never prints these files."""
