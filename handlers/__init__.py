"""Everything that speaks Slack, in and out: listeners, Block Kit builders, ids, the request
readers (`edge`), the Web API client, the outbox sender, the digest sender, lead and crowd
lookups, and the one classification of Slack's errors."""
