"""What reviewers and operators read: stack README, plain-words description, event simulator."""
