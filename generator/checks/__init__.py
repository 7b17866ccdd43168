"""Lint engine, findings, ASL lint and the project's policy rules (cfn-lint E9xxx)."""
