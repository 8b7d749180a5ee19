"""``python -m restate_lambda.local serve ...``: see :mod:`restate_lambda.local.serve`."""

from restate_lambda.local.serve import main

main()
