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
TRACKER_ACTION = "signal_tracker"

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
RESPOND_BY_BLOCK = "respond_by"
RESPOND_BY_INPUT = "respond_by_date"
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
TRACKER_MODAL = "tracker_modal"
TRACKER_BLOCK = "tracker"
TRACKER_INPUT = "tracker_url"

# Message shortcut
RAISE_SHORTCUT = "raise_as_signal"

# The filing modal's type-ahead of systems on record (options from a block_suggestion listener);
# SYSTEM_BLOCK stays the free-text fallback for a name not on record.
SYSTEM_PICK_BLOCK = "system_pick"
SYSTEM_PICK_INPUT = "system_pick_select"

# The resolve modal's leadership questions (all optional)
REVIEW_DECISION_BLOCK = "review_decision"
REVIEW_DECISION_INPUT = "review_decision_input"
REVIEW_SUCCESS_BLOCK = "review_success"
REVIEW_SUCCESS_INPUT = "review_success_input"
REVIEW_CONSTRAINT_BLOCK = "review_constraint"
REVIEW_CONSTRAINT_INPUT = "review_constraint_input"
REVIEW_MISSED_BLOCK = "review_missed"
REVIEW_MISSED_INPUT = "review_missed_input"

# AI systems on record: the card (everyone), the edit / register form (leads; private_metadata
# carries {"system_id", "card_view_id"} only), and the triage post's controls for a signal whose
# system is not on record.
SYSTEM_CARD_VIEW = "system_card"
SYSTEM_CARD_ACTIONS_BLOCK = "system_card_actions"
SYSTEM_EDIT_ACTION = "system_edit"
SYSTEM_MODAL = "system_modal"
SYSTEM_NAME_BLOCK = "system_name"
SYSTEM_NAME_INPUT = "system_name_input"
SYSTEM_ALIASES_BLOCK = "system_aliases"
SYSTEM_ALIASES_INPUT = "system_aliases_input"
SYSTEM_DECISION_BLOCK = "system_decision"
SYSTEM_DECISION_INPUT = "system_decision_input"
SYSTEM_SUCCESS_BLOCK = "system_success"
SYSTEM_SUCCESS_INPUT = "system_success_input"
SYSTEM_STAGE_BLOCK = "system_stage"
SYSTEM_STAGE_INPUT = "system_stage_select"
SYSTEM_SOURCES_BLOCK = "system_sources"
SYSTEM_SOURCES_INPUT = "system_sources_input"
SYSTEM_CONSTRAINTS_BLOCK = "system_constraints"
SYSTEM_CONSTRAINTS_INPUT = "system_constraints_input"
SYSTEM_ETHICS_BLOCK = "system_ethics"
SYSTEM_ETHICS_INPUT = "system_ethics_input"
SYSTEM_DOC_BLOCK = "system_doc"
SYSTEM_DOC_INPUT = "system_doc_input"
SYSTEM_SAVED_VIEW = "system_saved"
UNKNOWN_SYSTEM_BLOCK = "unknown_system"
SYSTEM_REGISTER_ACTION = "system_register"
SYSTEM_MERGE_ACTION = "system_merge"
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
