"""Optional language-model answers (issue 7): prompts, providers, checks, the writer."""
