"""Everything that speaks Slack, in and out: listeners, Block Kit builders, ids, the Web API
client, the outbox sender, lead and crowd lookups."""
