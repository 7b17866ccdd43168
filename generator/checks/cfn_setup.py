"""cfn-lint set up once per process, with the project's policy rules appended (building the rule
set is the expensive part, about 0.9 s); shared by the template lint and the ASL lint. A user's own
rule folders (`lint --append-rules DIR`, cfn-lint's mechanism) are added to that set as policy rules."""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generator.checks.findings import LintEngineError
from generator.core.errors import UserError
from generator.core.options import ascii_fullmatch

RULES_DIR = Path(__file__).resolve().with_name("rules")
# Region-specific checks (resource types, enum values) run against this Region only;
# fixed here so the result does not depend on AWS_REGION in the environment.
REGIONS = ("us-east-1",)
# Policy rules are mandatory: a template's own Metadata (cfn-lint ignore_checks) cannot
# switch them off. Exceptions belong in the rules (e.g. E9003's list), where they are reviewed.
POLICY_RULE_PREFIXES = ("E9", "W9")
# cfn-lint leaves the (E|W)9xxx ids to user rules ("Reserved for users rules",
# https://github.com/aws-cloudformation/cfn-lint/blob/main/docs/rules.md); an appended rule must use
# one that ours do not.
USER_RULE_ID = re.compile(r"^[EW]9\d{3}$")
# What cfn-lint loads from a rules folder (cfnlint.helpers.load_plugins), at any depth.
RULE_FILE_PATTERN = "[A-Za-z1-9]*.py"


@dataclass(frozen=True)
class Engine:
    config: Any  # cfnlint.config.ConfigMixIn
    all_rules: Any  # cfnlint.rules.Rules: cfn-lint's rules plus the appended policy rules
    cfn_rules: Any  # cfn-lint's own rules only
    policy_rules: Any  # the policy rules only
    stateful_types: frozenset[str] = frozenset()  # see generator.checks.fast_paths


def rule_files(folder: str) -> list[Path]:
    """The files cfn-lint loads as rules from folder (what the lint cache key covers)."""
    root = Path(folder)
    return sorted(path for path in root.rglob(RULE_FILE_PATTERN) if path.is_file())


@functools.cache
def user_rules(folders: tuple[str, ...]) -> Any:
    """The rules in the users' folders, checked: each folder exists, its rules load, and their ids
    are 9xxx ids that neither the project's policy rules nor another folder use."""
    from cfnlint.rules import Rules

    taken = set(Rules.create_from_directory(str(RULES_DIR)))
    found = Rules()
    for folder in folders:
        if not os.path.isdir(folder):
            raise UserError(f"{folder!r} is not a folder of cfn-lint rules", field="--append-rules")
        try:
            rules = Rules.create_from_directory(folder)
        except Exception as error:  # noqa: BLE001  a user's rule that cannot be loaded: one line, which folder
            raise UserError(f"{folder}: cannot load its rules ({type(error).__name__}: {' '.join(str(error).split())})",
                            field="--append-rules") from error
        if not rules:
            raise UserError(f"{folder}: no cfn-lint rule found (classes deriving from CloudFormationLintRule in {RULE_FILE_PATTERN})",
                            field="--append-rules")
        for rule_id in rules:
            if not ascii_fullmatch(USER_RULE_ID, rule_id):
                raise UserError(f"{folder}: rule id {rule_id!r}; allowed: E9xxx or W9xxx, the ids cfn-lint leaves to user rules",
                                field="--append-rules")
            if rule_id in taken or rule_id in found:
                raise UserError(f"{folder}: rule id {rule_id} is already used by {'this project' if rule_id in taken else 'another folder'}; "
                                "give the rule another 9xxx id", field="--append-rules")
        found.update(rules)
    return found


def rule_engine(extra_rule_dirs: tuple[str, ...] = ()) -> Engine:
    """cfn-lint's rules and the project's policy rules, plus the rules in extra_rule_dirs (which run
    as policy rules: on SAM templates after the transform too, and mandatory). Built once per
    process and folder list: `rule_engine()` and `rule_engine(())` are the same engine (a cache
    keyed on how it was called would build cfn-lint's rules twice, a second ~65 MB and ~1 s)."""
    return _rule_engine(tuple(extra_rule_dirs))


@functools.cache
def _rule_engine(extra_rule_dirs: tuple[str, ...]) -> Engine:
    if extra_rule_dirs:
        from cfnlint.rules import Rules

        base = rule_engine()
        extra = user_rules(extra_rule_dirs)
        all_rules = Rules(dict(base.all_rules))
        all_rules.update(extra)
        policy = Rules(dict(base.policy_rules))
        policy.update(extra)
        from generator.checks.fast_paths import stateful_resource_types

        return Engine(base.config, all_rules, base.cfn_rules, policy, stateful_resource_types(all_rules, policy))
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
    from generator.checks.fast_paths import rule_schemas_loaded_when_used

    rule_schemas_loaded_when_used()  # before the rules are built (see generator.checks.fast_paths)
    all_rules = Runner(config).rules  # cfn-lint's rules directory + config.append_rules
    # cfn-lint loads rule files as anonymous modules, so ask the same loader which ids are ours
    policy_ids = set(Rules.create_from_directory(str(RULES_DIR)))
    policy = {rule_id: rule for rule_id, rule in all_rules.items() if rule_id in policy_ids}
    if not policy:
        raise LintEngineError(f"no policy rules were loaded from {RULES_DIR}")
    cfn_only = {rule_id: rule for rule_id, rule in all_rules.items() if rule_id not in policy}
    from generator.checks.fast_paths import stateful_resource_types

    return Engine(config, all_rules, Rules(cfn_only), Rules(policy), stateful_resource_types(all_rules, policy))
