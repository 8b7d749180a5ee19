"""`make bench`: what running the patterns on Lambda costs, measured side by side in one run (see run.py).

``run`` orchestrates and reports; ``stack`` and ``compare`` set the Lambda path, an HTTP/2
endpoint and a cluster side by side; ``load`` drives them; ``patterns`` and ``growth`` run the
demos, cold starts, fan-out and Kafka curves; ``bundles`` builds what is measured from the
deployment bundles; ``harness`` times the local harness; ``cpu`` and ``report`` count and table.
"""
