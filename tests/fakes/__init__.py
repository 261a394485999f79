"""Local fakes of external services for tests (nothing here talks to the internet)."""
