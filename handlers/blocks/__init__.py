"""Block Kit builders: pure functions from service records to Slack payloads.

`kit` is the one vocabulary (text objects, blocks, elements, the words for kinds, statuses and
patterns); one module per surface builds on it: `intake` (the filing form and the reporter's
answers), `triage` (the triage post, its thread replies, the lead modals, the reporter's
notices), `systems` (an AI system's card and form, the type-ahead options, the triage post's
controls for a system not on record), `home` (the App Home tab), `digest` (the weekly digest).
"""
