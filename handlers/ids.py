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

# The triage post
TRIAGE_ACTIONS_BLOCK = "triage_actions"
ACKNOWLEDGE_ACTION = "signal_acknowledge"

# App Home
HOME_OPEN_MODAL_ACTION = "home_open_signal_modal"
