"""Every action and block ID the app sends to Slack, in one place."""

ANSWER_FEEDBACK_UP = "answer_feedback_up"
ANSWER_FEEDBACK_DOWN = "answer_feedback_down"
ANSWER_ASK_HUMAN = "answer_ask_human"
ANSWER_SHARE = "answer_share"  # ephemeral answer to a slash command: post it in the channel
ANSWER_ACTIONS_BLOCK = "answer_actions"
FEEDBACK_REASON_VIEW = "feedback_reason"
FEEDBACK_REASON_BLOCK = "feedback_reason_block"
FEEDBACK_REASON_INPUT = "feedback_reason_input"
