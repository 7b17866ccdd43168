"""The command line and the commands that talk to AWS."""
