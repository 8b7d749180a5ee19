"""The seed's command-line clients, one module per pattern, named after it (``python -m local.clients.<pattern>``).

Development tools, never bundled: they call the Restate ingress from outside, locally or deployed.
"""
