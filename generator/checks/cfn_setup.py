"""cfn-lint set up once per process, with the project's policy rules appended (building the rule
set is the expensive part, about 0.9 s); shared by the template lint and the ASL lint."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generator.checks.findings import LintEngineError

RULES_DIR = Path(__file__).resolve().with_name("rules")
# Region-specific checks (resource types, enum values) run against this Region only;
# fixed here so the result does not depend on AWS_REGION in the environment.
REGIONS = ("us-east-1",)
# Policy rules are mandatory: a template's own Metadata (cfn-lint ignore_checks) cannot
# switch them off. Exceptions belong in the rules (e.g. E9003's list), where they are reviewed.
POLICY_RULE_PREFIXES = ("E9", "W9")


@dataclass(frozen=True)
class Engine:
    config: Any  # cfnlint.config.ConfigMixIn
    all_rules: Any  # cfnlint.rules.Rules: cfn-lint's rules plus the appended policy rules
    cfn_rules: Any  # cfn-lint's own rules only
    policy_rules: Any  # the policy rules only
    stateful_types: frozenset[str] = frozenset()  # see generator.checks.fast_paths


@functools.cache
def rule_engine() -> Engine:
    from cfnlint.config import ConfigMixIn
    from cfnlint.rules import Rules
    from cfnlint.runner import Runner

    # append_rules is read like every option (ConfigMixIn._get_argument_value), although the
    # ManualArgs type does not list it; it is what `cfn-lint --append-rules DIR` sets.
    config = ConfigMixIn(
        [],
        regions=list(REGIONS),
        append_rules=[str(RULES_DIR)],
        mandatory_checks=list(POLICY_RULE_PREFIXES),
    )
    # Ignore ~/.cfnlintrc and ./.cfnlintrc: a finding must depend only on the template and this
    # code (that is what the cache key covers), not on who runs it from where.
    config.file_args = {}
    all_rules = Runner(config).rules  # cfn-lint's rules directory + config.append_rules
    # cfn-lint loads rule files as anonymous modules, so ask the same loader which ids are ours
    policy_ids = set(Rules.create_from_directory(str(RULES_DIR)))
    policy = {rule_id: rule for rule_id, rule in all_rules.items() if rule_id in policy_ids}
    if not policy:
        raise LintEngineError(f"no policy rules were loaded from {RULES_DIR}")
    cfn_only = {rule_id: rule for rule_id, rule in all_rules.items() if rule_id not in policy}
    from generator.checks.fast_paths import stateful_resource_types

    return Engine(config, all_rules, Rules(cfn_only), Rules(policy), stateful_resource_types(all_rules, policy))
