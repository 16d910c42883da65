"""Stage 1, ingest: a survey's source catalogue read (``sources``), its LRGs
selected by colour cuts (``lrg_cuts``), stamps cut from the tiles
(``cutouts``, their bands named by ``band_names``), and the survey's rows
written (``services``)."""
