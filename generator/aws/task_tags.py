"""Tags on the ECS tasks a stack starts: copied from the task definition (`propagate_tags`), ECS
managed tags (`enable_ecs_managed_tags`), and the environment's own `tags` (`stack_tags_on_tasks`).

CloudFormation puts a stack's tags on the resources it creates, but a task is created later by
EventBridge, Scheduler or Step Functions, so the environment's tags must be in the RunTask request
itself. The template is the same for every environment, so each tag's value is a parameter
(`TaskTag<Key>`), filled in per environment from stacks.toml; the keys are the template's and must
be the same in every environment of the stack.

Whoever calls RunTask with tags needs `ecs:TagResource` for that create action ("If tags are
specified in the resource-creating action, AWS performs additional authorization"), allowed with the
condition `ecs:CreateAction = RunTask` only:
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/supported-iam-actions-tagging.html
AWS's own EventBridge role for ECS grants exactly that for tag propagation and managed tags too:
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/CWE_IAM_role.html
Tag limits (RunTask `tags`): at most 50, keys 1-128 and values 0-256 characters, nothing starting
with `aws:`. https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RunTask.html
"""

from __future__ import annotations

import re

from troposphere import Parameter, Ref, Template

from generator.core.errors import UserError

PROPAGATE_TAGS_VALUES = ("TASK_DEFINITION",)  # the one value rule targets, Scheduler and (for tasks) RunTask accept
# ECS's "generally allowed" tag characters, kept to ASCII so the parameter's AllowedPattern means the
# same in CloudFormation (Java regular expressions) as here.
_TAG_CHARACTER = r"[A-Za-z0-9 _.:/=+@-]"
TAG_KEY = re.compile(rf"^{_TAG_CHARACTER}{{1,128}}$")
TAG_VALUE_PATTERN = rf"^{_TAG_CHARACTER}{{0,256}}$"
RESERVED_PREFIX = "aws:"
MAX_TAGS = 50
PARAMETER_PREFIX = "TaskTag"


def parameter_name(key: str) -> str:
    """`cost-center` → TaskTagCostCenter: the parameter holding this tag's value."""
    return PARAMETER_PREFIX + "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", key) if part)


def tag_parameters(keys) -> dict[str, str]:
    """Tag key → its parameter's name; two keys that would share a parameter are refused."""
    names: dict[str, str] = {}
    for key in sorted(keys):
        name = parameter_name(key)
        other = next((k for k, n in names.items() if n == name), None)
        if other is not None or name == PARAMETER_PREFIX:
            raise UserError(f"tags {other!r} and {key!r} would share the parameter {name}; rename one" if other else
                            f"tag {key!r} needs a letter or digit to name its parameter", field="options.stack_tags_on_tasks")
        names[key] = name
    return names


def _check_text(text: str, *, what: str, field: str) -> None:
    if text.lower().startswith(RESERVED_PREFIX):
        raise UserError(f"{text!r}: a tag {what} may not start with aws: (reserved for AWS)", field=field)


def task_tag_keys(environment_tags: dict[str, dict[str, str]]) -> tuple[str, ...]:
    """The tag keys every environment puts on its tasks, after checking each value can be a task tag."""
    if not environment_tags or not any(environment_tags.values()):
        raise UserError("no environment of the stack has tags to put on its tasks; set environments.<env>.tags", field="options.stack_tags_on_tasks")
    key_sets = {env: tuple(sorted(tags)) for env, tags in environment_tags.items()}
    first_env, keys = next(iter(key_sets.items()))
    for env, env_keys in key_sets.items():
        if env_keys != keys:
            raise UserError(f"environments {first_env} ({', '.join(keys) or 'no tags'}) and {env} ({', '.join(env_keys) or 'no tags'}) "
                            "have different tag keys; the keys of the task tags are in the template, shared by every environment, "
                            "so give each environment the same keys", field=f"environments.{env}.tags")
    if len(keys) > MAX_TAGS:
        raise UserError(f"{len(keys)} tags; ECS allows at most {MAX_TAGS} on a task", field=f"environments.{first_env}.tags")
    for env, tags in environment_tags.items():
        for key, value in tags.items():
            field = f"environments.{env}.tags.{key}"
            if not TAG_KEY.match(key):
                raise UserError(f"{key!r} is not a task tag key; allowed: 1-128 ASCII letters, digits, spaces and _ . : / = + - @", field=field)
            if not re.match(TAG_VALUE_PATTERN, value):
                raise UserError(f"{value!r} is not a task tag value; allowed: 0-256 ASCII letters, digits, spaces and _ . : / = + - @",
                                field=field)
            _check_text(key, what="key", field=field)
            _check_text(value, what="value", field=field)
    tag_parameters(keys)
    return keys


def add_tag_parameters(template: Template, keys: tuple[str, ...]) -> list[tuple[str, Ref]]:
    """One String parameter per tag key; returns (key, Ref(parameter)) in key order."""
    refs = []
    for key, name in tag_parameters(keys).items():
        if name not in template.parameters:
            template.add_parameter(Parameter(
                name, Type="String", Description=f"Value of the {key!r} tag on every task this stack starts (the environment's tags.{key})",
                AllowedPattern=TAG_VALUE_PATTERN, ConstraintDescription="0-256 ASCII letters, digits, spaces and _ . : / = + - @"))
        refs.append((key, Ref(name)))
    return refs


def task_tag_refs(template: Template, options, environment_tags: dict[str, dict[str, str]]) -> list[tuple[str, Ref]]:
    """The (key, value) pairs a blueprint puts on its tasks: with `stack_tags_on_tasks`, the
    environment's tags as parameters (added to the template); else none."""
    if not options.stack_tags_on_tasks:
        return []
    return add_tag_parameters(template, task_tag_keys(environment_tags))


def tag_parameter_values(tags: dict[str, str]) -> dict[str, str]:
    """An environment's tags as the values of the TaskTag parameters."""
    return {parameter_name(key): value for key, value in tags.items()}
