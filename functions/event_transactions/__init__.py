"""Transactional event processing: UserFeed, fed by Kafka."""
