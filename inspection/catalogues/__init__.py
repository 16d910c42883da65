"""Stage 4, catalogues: grades turned into the consensus catalogue, its
posterior and agreement, prior lens lists and the cross-match (``services``);
the maths in ``consensus`` and ``prior_lists``, the figures in ``dashboards``
and ``gallery``."""
