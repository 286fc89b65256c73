"""Every callback, action and block id in one place: builders, handlers and tests share them."""

COMMAND = "/ai-signal"

# The filing modal
SIGNAL_MODAL = "signal_modal"
KIND_BLOCK = "kind"
KIND_INPUT = "kind_select"
SYSTEM_BLOCK = "system"
SYSTEM_INPUT = "system_input"
TEXT_BLOCK = "text"
TEXT_INPUT = "text_input"
IMPACT_BLOCK = "impact"
IMPACT_INPUT = "impact_input"
IDENTITY_BLOCK = "identity"
IDENTITY_INPUT = "identity_choice"
IDENTITY_NAMED = "named"
IDENTITY_ANONYMOUS = "anonymous"

# The receipt that replaces the filing modal once the signal is filed
SIGNAL_DONE_VIEW = "signal_modal_done"

# `/ai-signal reveal <code>`: the private confirmation (private_metadata carries the token only)
REVEAL_MODAL = "reveal_modal"
REVEAL_DONE_VIEW = "reveal_modal_done"

# The triage post: its actions block and the lead buttons in it
TRIAGE_ACTIONS_BLOCK = "triage_actions"
ACKNOWLEDGE_ACTION = "signal_acknowledge"
TRIAGE_ACTION = "signal_triage"
ASK_ACTION = "signal_ask"
RESOLVE_ACTION = "signal_resolve"
REOPEN_ACTION = "signal_reopen"

# App Home
HOME_OPEN_MODAL_ACTION = "home_open_signal_modal"

# Lead modals (private_metadata carries the signal reference only)
TRIAGE_MODAL = "triage_modal"
ASK_MODAL = "ask_modal"
RESOLVE_MODAL = "resolve_modal"
IMPACT_LEVEL_BLOCK = "impact_level"
IMPACT_LEVEL_INPUT = "impact_level_select"
OWNER_BLOCK = "owner"
OWNER_INPUT = "owner_select"
STATUS_BLOCK = "status"
STATUS_INPUT = "status_choice"
NOTE_BLOCK = "note"
NOTE_INPUT = "note_input"
REASON_BLOCK = "reason"
REASON_INPUT = "reason_input"
QUESTION_BLOCK = "question"
QUESTION_INPUT = "question_input"
DONE_BLOCK = "done"
DONE_INPUT = "done_input"
ASSUMPTION_BLOCK = "assumption"
ASSUMPTION_INPUT = "assumption_input"
PATTERN_BLOCK = "pattern"
PATTERN_INPUT = "pattern_select"
LESSON_BLOCK = "lesson"
LESSON_INPUT = "lesson_input"

# Message shortcut
RAISE_SHORTCUT = "raise_as_signal"

# Duplicates: the lead's button on the triage post and its modal (the primary's reference)
DUPLICATE_ACTION = "signal_duplicate"
DUPLICATE_MODAL = "duplicate_modal"
PRIMARY_BLOCK = "primary"
PRIMARY_INPUT = "primary_input"

# The lessons library: a lead's key-lesson toggle (on the resolution reply), the answer's paging
KEY_LESSON_ACTION = "lesson_key_toggle"
LESSONS_MORE_ACTION = "lessons_more"
LESSONS_ACTIONS_BLOCK = "lessons_actions"
SEEN_BEFORE_BLOCK = "seen_before"
