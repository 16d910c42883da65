"""Stage 3, grading: known sets, inspector training, campaigns, grades, stamp
previews and inspector accounts (``services``); what a grade request may hold
(``grade_body``)."""
