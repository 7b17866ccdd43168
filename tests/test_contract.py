"""The blueprint contract (generator/core/contract.py): a module that misses any part of it is refused
when it loads, with one line naming what is missing; the option mixins' checks and hooks run for
every blueprint that combines them, because each link of the chain calls super()."""

from __future__ import annotations

import dataclasses
import types
from dataclasses import dataclass

import pytest
from troposphere import Template

from generator.aws.alerts import AlertOptions
from generator.aws.delivery import DeliveryOptions
from generator.aws.ecs_task import RunTaskOptions
from generator.aws.event_rules import S3KeyFilter
from generator.core.contract import BlueprintOptions, Rendered, StackContext, check_blueprint
from generator.core.errors import BlueprintContractError, UserError
from generator.core.options import build_dataclass, example_table, option
from generator.core.registry import registered


def build(options, stack):
    return Rendered(Template())


@dataclass(frozen=True, kw_only=True)
class SizeOptions(BlueprintOptions):
    size: int = option(1, doc="how many", by_default="one")


def blueprint_module(**attributes) -> types.ModuleType:
    module = types.ModuleType("demo_blueprint")
    module.__dict__.update({"DESCRIPTION": "A demo", "Options": SizeOptions, "build": build})
    module.__dict__.update(attributes)
    return module


def refusal(module: types.ModuleType) -> str:
    with pytest.raises(BlueprintContractError) as raised:
        check_blueprint("demo", module, origin="a test")
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith("blueprint 'demo' (a test, module demo_blueprint) does not meet the contract: ")
    assert message.endswith("(see generator/core/contract.py)")
    return message


def test_a_module_with_every_part_is_a_blueprint():
    loaded = check_blueprint("demo", blueprint_module(PROVIDES=frozenset({"x"})), origin="a test")
    assert (loaded.name, loaded.description, loaded.options_type, loaded.provides) == ("demo", "A demo", SizeOptions, frozenset({"x"}))
    assert isinstance(loaded.build(SizeOptions(), StackContext("s", "demo", "")), Rendered)


@dataclass(frozen=True)
class PlainOptions:
    size: int = 1


@dataclass(kw_only=True)
class MutableOptions(BlueprintOptions):
    size: int = option(1, doc="how many", by_default="one")


@dataclass(frozen=True, kw_only=True)
class UndocumentedOptions(BlueprintOptions):
    size: int = 1
    name: str = option(doc="a name")  # required, but no example to show it with


@dataclass(frozen=True, kw_only=True)
class DefaultWithoutBehaviour(BlueprintOptions):
    size: int = option(1, doc="how many")


@dataclass(frozen=True)
class LooseTable:  # a nested table that is not an OptionTable
    name: str = option(doc="a name")


@dataclass(frozen=True, kw_only=True)
class LooseTableOptions(BlueprintOptions):
    table: LooseTable | None = option(None, doc="a table", by_default="none")


@pytest.mark.parametrize("attributes, missing", [
    ({"DESCRIPTION": None}, "DESCRIPTION must be a one-line string"),
    ({"DESCRIPTION": "two\nlines"}, "DESCRIPTION must be a one-line string"),
    ({"Options": None}, "Options (a frozen dataclass deriving from BlueprintOptions) is missing"),
    ({"Options": PlainOptions}, "Options must derive from generator.core.contract.BlueprintOptions"),
    ({"build": None}, "build(options, stack) is missing"),
    ({"build": lambda options: None}, "build must take two arguments: (options, stack)"),
    ({"PROVIDES": "ecs-task-foundation"}, "PROVIDES, when given, must be a frozenset of strings"),
    ({"Options": MutableOptions}, "Options must be a frozen dataclass"),
    ({"Options": UndocumentedOptions}, "Options field 'size' has no doc (declare it with generator.core.options.option(doc=...))"),
    ({"Options": UndocumentedOptions}, "Options field 'size' has a default but no by_default (what leaving it out does)"),
    ({"Options": UndocumentedOptions}, "Options field 'name' is required but has no example"),
    ({"Options": DefaultWithoutBehaviour}, "Options field 'size' has a default but no by_default"),
    ({"Options": LooseTableOptions}, "option table LooseTable must derive from generator.core.options.OptionTable"),
])
def test_what_is_missing_is_named(attributes, missing):
    assert missing in refusal(blueprint_module(**attributes))


def test_every_problem_is_named_at_once():
    message = refusal(blueprint_module(DESCRIPTION="", build=None))
    assert "DESCRIPTION must be a one-line string; build(options, stack) is missing" in message


def test_build_must_return_rendered():
    loaded = check_blueprint("demo", blueprint_module(build=lambda options, stack: Template()), origin="a test")
    with pytest.raises(BlueprintContractError, match=r"build\(\) returned Template, not generator.core.contract.Rendered"):
        loaded.build(SizeOptions(), StackContext("s", "demo", ""))


# --- the __post_init__ chain ------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ForgetfulOptions(RunTaskOptions, DeliveryOptions):
    schedule: str = option(doc="when", example="rate(1 hour)")

    def __post_init__(self):  # checks its own field, but never calls super(): the mixins' checks would not run
        if not self.schedule:
            raise UserError("empty", field="schedule")


@dataclass(frozen=True, kw_only=True)
class NamingMixinsOptions(RunTaskOptions, DeliveryOptions):
    schedule: str = option(doc="when", example="rate(1 hour)")

    def __post_init__(self):  # the old way: a mixin added later would be forgotten here
        RunTaskOptions.__post_init__(self)
        DeliveryOptions.__post_init__(self)


@pytest.mark.parametrize("options", [ForgetfulOptions, NamingMixinsOptions])
def test_a_post_init_that_does_not_call_super_is_refused_when_the_blueprint_loads(options):
    message = refusal(blueprint_module(Options=options))
    assert f"{options.__qualname__}.__post_init__ must call super().__post_init__()" in message


@dataclass(frozen=True, kw_only=True)
class SometimesForgetful(RunTaskOptions, DeliveryOptions):
    def __post_init__(self):
        if self.task_count > 5:  # reads like a chain, but only calls super() sometimes
            super().__post_init__()


def test_a_chain_that_stops_at_run_time_is_refused_when_options_are_built():
    with pytest.raises(BlueprintContractError) as raised:
        build_dataclass(SometimesForgetful, {"container_name": "app", "retry_attempts": 999})
    assert str(raised.value) == (
        "test_contract.SometimesForgetful: SometimesForgetful.__post_init__ does not call super().__post_init__(), "
        "so the checks of the classes after it were skipped"
    )
    with pytest.raises(UserError, match="999 is out of range"):  # when it does call super(), every mixin checks
        build_dataclass(SometimesForgetful, {"container_name": "app", "task_count": 6, "retry_attempts": 999})


# One bad value per mixin: its own check must reject it in every blueprint that combines it.
MIXIN_CHECKS = {
    RunTaskOptions: ("task_count", 0, "0 is out of range; allowed: 1 to 10 (RunTask's limit)"),
    DeliveryOptions: ("retry_attempts", 186, "186 is out of range; allowed: 0 to 185"),
    AlertOptions: ("alerts", "loud", "'loud' is not an alert mode; allowed: topic, parameter, off"),
    S3KeyFilter: ("key_prefix", "", "an empty filter matches every key"),
}
CASES = [(name, mixin) for name, blueprint in registered().items() for mixin in MIXIN_CHECKS
         if issubclass(blueprint.options_type, mixin)]


def test_the_cases_cover_every_mixin_and_every_blueprint_with_one():
    assert {mixin for _, mixin in CASES} == set(MIXIN_CHECKS)
    assert {name for name, _ in CASES} == {name for name, blueprint in registered().items()
                                           if any(issubclass(blueprint.options_type, mixin) for mixin in MIXIN_CHECKS)}


@pytest.mark.parametrize("name, mixin", CASES, ids=lambda value: getattr(value, "__name__", value))
def test_every_mixin_checks_its_options_in_every_blueprint_that_combines_it(name, mixin):
    options_type = registered()[name].options_type
    field, bad, message = MIXIN_CHECKS[mixin]
    build_dataclass(options_type, example_table(options_type))  # the examples are valid
    with pytest.raises(UserError) as raised:
        build_dataclass(options_type, {**example_table(options_type), field: bad})
    assert (raised.value.field, raised.value.message[:len(message)]) == (field, message)


# --- the hooks chain too -----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class TeamOptions(BlueprintOptions):
    team: str = option("data", doc="the owning team", by_default="data")

    def implied_parameters(self, environment: str) -> dict[str, str]:
        return {**super().implied_parameters(environment), "Team": f"{self.team}-{environment}"}


@dataclass(frozen=True, kw_only=True)
class ImportingTeamOptions(RunTaskOptions, TeamOptions):
    pass


def test_hooks_of_every_mixin_run_when_each_calls_super():
    options = build_dataclass(ImportingTeamOptions, {"container_name": "app", "import_from": "base"})
    assert options.implied_parameters("dev") == {"Team": "data-dev", "FoundationStack": "base-dev"}
    assert BlueprintOptions().implied_parameters("dev") == {}
    assert BlueprintOptions().resolved_parameters({"A": "1"}, region=None) == {"A": "1"}


def test_every_option_of_every_blueprint_is_documented():
    # what `list BLUEPRINT` prints: check_blueprint refuses a blueprint without it, so this holds for all
    from generator.core.options import option_docs

    for blueprint in registered().values():
        docs = option_docs(blueprint.options_type)
        assert docs and all(doc.doc and (doc.required or doc.by_default) for doc in docs), blueprint.name
        assert sorted(doc.name for doc in docs) == sorted(f.name for f in dataclasses.fields(blueprint.options_type))
