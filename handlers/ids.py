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

# The leads' queue (`/ai-signal queue …` and the leads' Home): paging, quick and bulk
# acknowledgement, and Home's filter menus. Button values carry the page's state (its filter
# words and keyset position); Home keeps it in the view's private_metadata as well.
QUEUE_LINE_BLOCK_PREFIX = "queue_line_"
QUEUE_ACK_ACTION = "queue_acknowledge"
QUEUE_SELECT_BLOCK = "queue_select"
QUEUE_SELECT_ACTION = "queue_select_signals"
QUEUE_BULK_ACK_ACTION = "queue_acknowledge_selected"
QUEUE_NAV_BLOCK = "queue_nav"
QUEUE_NEXT_ACTION = "queue_next"
QUEUE_PREVIOUS_ACTION = "queue_previous"
QUEUE_FILTER_BLOCK = "queue_filters"
QUEUE_FILTER_STATUS = "queue_filter_status"
QUEUE_FILTER_KIND = "queue_filter_kind"
QUEUE_FILTER_SYSTEM = "queue_filter_system"
QUEUE_FILTER_OWNER = "queue_filter_owner"
QUEUE_FILTER_AGE = "queue_filter_age"
QUEUE_FILTER_IDENTITY = "queue_filter_identity"
QUEUE_FILTER_DUE = "queue_filter_due"
QUEUE_FILTERS = (
    QUEUE_FILTER_STATUS,
    QUEUE_FILTER_KIND,
    QUEUE_FILTER_SYSTEM,
    QUEUE_FILTER_OWNER,
    QUEUE_FILTER_AGE,
    QUEUE_FILTER_IDENTITY,
    QUEUE_FILTER_DUE,
)
