"""Every action and block ID the app sends to Slack, in one place."""

ANSWER_FEEDBACK_UP = "answer_feedback_up"
ANSWER_FEEDBACK_DOWN = "answer_feedback_down"
ANSWER_ASK_HUMAN = "answer_ask_human"
ANSWER_SHARE = "answer_share"  # ephemeral answer to a slash command: post it in the channel
ANSWER_ACTIONS_BLOCK = "answer_actions"
FEEDBACK_REASON_VIEW = "feedback_reason"
FEEDBACK_REASON_BLOCK = "feedback_reason_block"
FEEDBACK_REASON_INPUT = "feedback_reason_input"
PRIVACY_FORGET_CONFIRM = "privacy_forget_confirm"  # /keten vergeet-mij: yes, erase everything
PRIVACY_FORGET_CANCEL = "privacy_forget_cancel"
PRIVACY_FORGET_BLOCK = "privacy_forget_actions"
