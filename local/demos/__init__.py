"""One demo scenario per catalog entry, named after it: ``make demo`` runs each module's ``run_demo``.

Development tools, never bundled: they call a running stack from outside, as a user would.
"""
