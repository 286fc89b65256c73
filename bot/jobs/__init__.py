"""Background jobs: the delivery worker, the digest, reminders and their scheduler."""
