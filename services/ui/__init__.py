"""`occuloop ui`: a read-only web UI over the loop, for the embedded server and any ClearML server (issue 15).

reads.py (the only module that sends requests) → joins.py / timeline.py (pure joins) → pages/ (one view per page)
→ templates/ (one Jinja template per page, autoescaped) ; app.py wires routes, errors and auth; command.py runs it.
"""
