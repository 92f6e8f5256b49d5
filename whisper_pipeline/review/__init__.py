"""Audio nobody has transcribed yet: drafts by the production model, ranked by its confidence for review
(``queue.py``, ``page.py``), and the confident ones as optional pseudo-labels for training (``pseudo.py``)."""
