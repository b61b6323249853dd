"""Property-based API testing: Schemathesis against a real server process."""
