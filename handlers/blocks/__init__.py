"""Block Kit builders: pure functions from service records to Slack payloads."""
