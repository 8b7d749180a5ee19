"""Event enrichment / joins: PackageTracker, fed by HTTP and Kafka."""
