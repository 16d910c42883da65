"""The pages of the search, one module per page family: ``home``,
``inspectors``, ``surveys``, ``runs``, ``adaptation``, ``grading`` and
``catalogues`` (``inspection.urls`` maps the URLs onto them)."""
