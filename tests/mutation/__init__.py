"""Mutation testing of the modules that hold security and data-integrity rules."""
