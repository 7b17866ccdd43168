"""Less of cfn-lint's work for the same findings: two shortcuts the lint engine takes, each with the
argument for why it cannot change a finding (``tests/test_lint_equivalence.py`` also compares the
engine with them and without them, and with the cfn-lint CLI, over the golden variants and a set of
deliberately broken templates).

1. ``validator_classes_reused``: cfn-lint 1.x builds a new validator *class* (a dataclass, compiled
   with ``exec``) each time a rule extends the JSON-schema validator, about 50 times per template:
   some 15% of a lint. The class is a pure function of the three arguments of
   ``cfnlint.jsonschema.validators.create`` (they are only captured as field defaults), so one class
   per distinct set of arguments behaves exactly like a new one each time. Likewise
   ``dataclasses.fields(cls)``, which cfn-lint calls on every evolve of a context or validator
   (another 10%), is a pure function of the class. And ``BaseJsonSchema.extend_validator`` builds
   each extended validator twice, the first time only to be copied: built once (5%).

2. ``resource_schema_only_on``: in the translated SAM template, cfn-lint's findings count only on the
   resources the transform generated (the rest of the template was linted as written). The resource
   schema rule E3001 walks every resource, and is most of a lint; walking only the generated ones
   cannot change a finding on them: each resource is validated from its own subtree (errors carry
   that subtree's path) and reads the rest of the template through ``validator.cfn``, which is left
   whole. The exception would be a rule that keeps state from one resource to the next (a subnet
   compared with the subnets validated before it): cfn-lint's rules that reset such state per
   template override ``initialize``, so a template holding any resource type such a rule looks at is
   linted whole (``STATELESS_INITIALIZE`` lists the overrides read and found to keep no state; a
   test fails when cfn-lint adds an override nobody has read).

3. ``rule_schemas_loaded_when_used`` (memory, not time): a ``CfnLintJsonSchema`` rule reads its
   schema file in ``__init__``, so building the rule set loads every one, about 45 MB of JSON for
   resource types no template here has (two RDS instance-class rules alone are 26 MB). The schema
   is only read through ``self._schema`` / ``self.schema``; reading the same file on first use
   instead gives the rule the same schema, so every finding is the same, and a process linting
   these templates stays near cfn-lint's own footprint.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import inspect
import re
import weakref
from typing import Any, Iterable, Iterator

RESOURCE_SCHEMA_RULE = "E3001"
# SHA-256 of the source of each cfn-lint function a shortcut stands in for or relies on, as read for
# cfn-lint 1.58.0. Where the installed cfn-lint's source differs, that shortcut is not taken (the
# same findings, only slower) until someone reads the new source and records its hash here;
# tests/test_lint_equivalence.py fails meanwhile, to say so.
REVIEWED_SOURCES = {
    "cfnlint.jsonschema.validators.create": "2d1dd51fbc7a640b01868d3224cefa20d9815bcf85ef8e0b16fbc79fd839eabe",
    "cfnlint.rules.jsonschema.Base.BaseJsonSchema.extend_validator":
        "512d7e20846250f7c577fee0498db32c9f0a054fc84195f800e4185dd16a8b5f",
    "cfnlint.rules.resources.Configuration.Configuration.validate":
        "2ecdfee15fda752ce081aff33119f5c79ccff2415e92faa6709cb3b96c6b072b",
    "cfnlint.rules.jsonschema.CfnLintJsonSchema.CfnLintJsonSchema.__init__":
        "86976a18215dd45e50651379dc1134eb21dc831dbf8a72520e61ded85bd6bdb0",
}
# Rules that override initialize() without carrying anything from one resource to the next.
STATELESS_INITIALIZE = {
    "E3027": "re-runs __init__ to reset its keyword list (RuleScheduleExpression, cfn-lint 1.58)",
}
_KEYWORD_RESOURCE_TYPE = re.compile(r"^Resources/([^/]+)")


# --- 1. one validator class per distinct set of arguments; dataclass fields read once per class ------


_reviewed: dict[Any, bool] = {}


def source_reviewed(function: Any, name: str) -> bool:
    """Whether ``function``'s source is the one REVIEWED_SOURCES[name] records."""
    code = getattr(function, "__code__", None)
    if code not in _reviewed:
        try:
            source = inspect.getsource(function)
        except (OSError, TypeError):
            source = ""
        _reviewed[code] = hashlib.sha256(source.encode()).hexdigest() == REVIEWED_SOURCES.get(name)
    return _reviewed[code]


def _identity(value: Any) -> tuple[int, Any]:
    # A bound method is rebuilt on every attribute access; what it calls is (its object, its function).
    # Objects are compared by identity (cfn-lint's rules define __eq__ by rule id only).
    return id(getattr(value, "__self__", None)), getattr(value, "__func__", value)


def _filter_key(function_filter: Any) -> Any:
    if function_filter is None:
        return None
    values = []
    for field in dataclasses.fields(function_filter):
        value = getattr(function_filter, field.name)
        values.append(tuple(value) if isinstance(value, list) else value)
    return type(function_filter), tuple(values)


class _Reuse:
    """The process's validator classes and dataclass field tuples (a few dozen of each)."""

    def __init__(self) -> None:
        # key → (class, and the arguments it was built from: kept alive, so the ids in the key stay theirs)
        self.classes: dict[Any, tuple[Any, ...]] = {}
        self.field_tuples: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self.active = False

    def create(self, original: Any) -> Any:
        def create(validators=None, function_filter=None, fn_resolvers=None):
            try:
                key = (tuple((name, _identity(value)) for name, value in (validators or {}).items()),
                       _filter_key(function_filter),
                       tuple((name, _identity(value)) for name, value in (fn_resolvers or {}).items()))
                hit = self.classes.get(key)
            except TypeError:  # an argument that cannot be a key: build the class as cfn-lint does
                return original(validators, function_filter, fn_resolvers)
            if hit is None:
                hit = self.classes[key] = (original(validators, function_filter, fn_resolvers),
                                           validators, function_filter, fn_resolvers)
            return hit[0]

        return create

    def fields(self, class_or_instance: Any) -> tuple:
        # dataclasses.fields() walks the class's field table on every call (Context.evolve and
        # Validator.evolve call it hundreds of thousands of times a run); a class's fields never change.
        cls = class_or_instance if isinstance(class_or_instance, type) else type(class_or_instance)
        try:
            return self.field_tuples[cls]
        except KeyError:
            found = self.field_tuples[cls] = dataclasses.fields(cls)
            return found
        except TypeError:  # not weakly referable
            return dataclasses.fields(cls)


_REUSE = _Reuse()


def _extend_validator(self: Any, validator: Any, schema: Any, context: Any, validators: Any = None) -> Any:
    # BaseJsonSchema.extend_validator (cfn-lint 1.58) builds the extended validator twice: first with
    # defaults (an empty Template, a context evolved from it, a resolver), then evolve() with the
    # template, context and a resolver it passes. evolve() copies the other init fields (schema,
    # function_filter: the class defaults) from the first, so building it once with those values is
    # the same validator.
    from cfnlint.schema.resolver import RefResolver

    all_validators = self._get_validators()
    if validators:
        all_validators.update(validators)
    return validator.extend(validators=all_validators)(
        schema=schema, cfn=validator.cfn, context=context, resolver=RefResolver.from_schema(schema))


@contextlib.contextmanager
def validator_classes_reused() -> Iterator[None]:
    """While active, ``cfnlint.jsonschema.validators.create`` returns one class per distinct arguments,
    cfn-lint's modules read a dataclass's fields once per class, and a rule extends the validator in
    one step (each only where cfn-lint's source is the one reviewed: REVIEWED_SOURCES)."""
    if _REUSE.active:  # nested use
        yield
        return
    from cfnlint.context import context as context_module
    from cfnlint.jsonschema import _filter as filter_module, validators as validators_module
    from cfnlint.rules.jsonschema.Base import BaseJsonSchema

    patches = [(module, "fields", _REUSE.fields) for module in (validators_module, context_module, filter_module)
               if getattr(module, "fields", None) is dataclasses.fields]
    if source_reviewed(validators_module.create, "cfnlint.jsonschema.validators.create"):
        patches.append((validators_module, "create", _REUSE.create(validators_module.create)))
    if source_reviewed(BaseJsonSchema.extend_validator, "cfnlint.rules.jsonschema.Base.BaseJsonSchema.extend_validator"):
        patches.append((BaseJsonSchema, "extend_validator", _extend_validator))
    originals = [(module, name, getattr(module, name)) for module, name, _ in patches]
    for module, name, replacement in patches:
        setattr(module, name, replacement)
    _REUSE.active = True
    try:
        yield
    finally:
        _REUSE.active = False
        for module, name, original in originals:
            setattr(module, name, original)


# --- 2. the translated template's resource schema checks, on generated resources only ----------------


def stateful_resource_types(rules: Any, policy_ids: Iterable[str] = ()) -> frozenset[str]:
    """Resource types that a rule keeping per-template state (an ``initialize`` override not in
    STATELESS_INITIALIZE) looks at; "*" (never restrict) when such a rule names no type, or when a
    policy rule (whose findings count everywhere) is a keyword rule walked by E3001."""
    from cfnlint.rules import CloudFormationLintRule

    types: set[str] = set()
    if any(getattr(rules[rule_id], "keywords", None) for rule_id in policy_ids if rule_id in rules):
        types.add("*")
    for rule_id, rule in rules.items():
        if type(rule).initialize is CloudFormationLintRule.initialize or rule_id in STATELESS_INITIALIZE:
            continue
        keywords = [keyword for keyword in getattr(rule, "keywords", None) or [] if isinstance(keyword, str)]
        named = {match.group(1) for keyword in keywords if (match := _KEYWORD_RESOURCE_TYPE.match(keyword))}
        types |= named
        if not named and keywords:
            types.add("*")
        # a classic rule (match(cfn) over the whole template) is not affected by the restriction
    return frozenset(types)


def restriction_is_exact(template: dict, stateful_types: frozenset[str]) -> bool:
    resources = template.get("Resources")
    if not isinstance(resources, dict):
        return False
    if "*" in stateful_types:
        return False
    return not any(isinstance(resource, dict) and resource.get("Type") in stateful_types for resource in resources.values())


@contextlib.contextmanager
def resource_schema_only_on(rules: Any, logical_ids: Iterable[str]) -> Iterator[None]:
    """While active, rule E3001 of ``rules`` validates only these resources of the Resources section."""
    rule = rules.get(RESOURCE_SCHEMA_RULE) if hasattr(rules, "get") else None
    if (rule is None or "validate" in vars(rule)
            or not source_reviewed(type(rule).validate, "cfnlint.rules.resources.Configuration.Configuration.validate")):
        yield  # no such rule, already restricted, or not the rule that was read: the whole walk
        return
    kept = frozenset(logical_ids)
    original = type(rule).validate

    def validate(validator, keywords, instance, schema):
        if isinstance(instance, dict):
            instance = _subset(instance, kept)
        return original(rule, validator, keywords, instance, schema)

    rule.validate = validate
    try:
        yield
    finally:
        del rule.validate


def _subset(resources: dict, kept: frozenset[str]) -> dict:
    subset = {key: value for key, value in resources.items() if key in kept}
    if hasattr(resources, "start_mark"):  # cfn-lint's dict_node keeps the section's position
        from cfnlint.decode.node import dict_node

        return dict_node(subset, resources.start_mark, resources.end_mark)
    return subset


# --- 3. a rule's schema file read when the rule first uses it --------------------------------------


_SCHEMA_INIT = "cfnlint.rules.jsonschema.CfnLintJsonSchema.CfnLintJsonSchema.__init__"


def rule_schemas_loaded_when_used() -> bool:
    """Make CfnLintJsonSchema rules built from now on read their schema file on first use (installed
    once per process, before the rules are built; whether it is in place is the return value).
    cfn-lint 1.58's ``__init__`` does exactly two things with ``schema_details``: load the file into
    ``self._schema`` and set ``self._use_schema_arg = False``; here the second happens at once and
    the first when ``_schema`` is first read. A rule that assigns ``self._schema`` itself keeps what
    it assigned."""
    import importlib

    # the module (the package's attribute of the same name is the class)
    module = importlib.import_module("cfnlint.rules.jsonschema.CfnLintJsonSchema")
    cls = module.CfnLintJsonSchema
    if isinstance(vars(cls).get("_schema"), property):
        return True
    if not source_reviewed(cls.__init__, _SCHEMA_INIT):
        return False
    original = cls.__init__

    def __init__(self, keywords=None, schema_details=None, all_matches=False):
        original(self, keywords, None, all_matches)  # everything but reading the file
        if schema_details:
            self.__dict__.pop("_loaded_schema", None)
            self.__dict__["_schema_details"] = schema_details
            self._use_schema_arg = False

    def read(self):
        try:
            return self.__dict__["_loaded_schema"]
        except KeyError:
            details = self.__dict__.get("_schema_details")
            schema = module.load_resource(details.module, filename=details.filename) if details else {}
            self.__dict__["_loaded_schema"] = schema
            return schema

    def write(self, value):
        self.__dict__["_loaded_schema"] = value

    cls.__init__ = __init__
    cls._schema = property(read, write)
    return True
