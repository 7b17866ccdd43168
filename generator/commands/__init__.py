"""The commands that talk to AWS (deploy an environment, preview against live stacks, run, status,
logs, teardown) and the IAM-change table `diff` shares with them.

Everything here is imported only by the command that needs it: `render`, `check` and `lint` stay
offline and never import boto3.
"""
