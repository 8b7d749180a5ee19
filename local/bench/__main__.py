"""``python -m local.bench``, as `make bench` runs it."""

from local.bench.run import main

main()
