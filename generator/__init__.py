"""Generator of CloudFormation/SAM templates for event-driven ECS Fargate batch jobs."""

__version__ = "0.1.0"
