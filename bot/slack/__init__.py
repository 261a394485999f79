"""The Slack adapter: turns Slack surfaces into calls on the core and renders its results."""
