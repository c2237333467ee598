"""One module per page (or family of pages): each view reads through `reads.Reader`, joins with the pure functions
of `joins.py` / `timeline.py`, and renders one template (or the same data as JSON)."""
