"""Building blocks a blueprint composes: ARNs, IAM, ECS task and targets, delivery, event rules,
schedules, alerts, Step Functions, Fargate, log groups, parameters, Lambda sources."""
