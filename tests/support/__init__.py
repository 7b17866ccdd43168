"""Helpers shared by the tests (tests never import each other, nor conftest).

- paths:        the repository's folders, reference events, file snapshots, free ports, external tools
- manifests:    stacks.toml text for one stack, rendering it, walking a rendered template
- expected_iam: the IAM statements the blueprints must grant, statement by statement
- moto_deploy:  deploying rendered stacks to a moto server the way `sam deploy` would
- operations:   an environment of the example stacks on moto, for the day-2 commands' tests
- stubbed_aws:  the day-2 commands against stubbed AWS responses
- state_machines: a rendered state machine run on moto's Step Functions interpreter
- events:       AWS's sample events and our variants
"""
