"""The lint engine's shortcuts change no finding: every golden variant and a set of deliberately
broken templates lint to the same findings (1) with the shortcuts, in forked workers, as without
them, one template at a time (the plain path: cfn-lint over the template as written, then over the
whole translated SAM template), and (2) for cfn-lint's own rules on the template as written, as the
cfn-lint command line reports them."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import generator.checks.engine as lint
from generator.checks import fast_paths

GOLDEN = Path(__file__).parent / "golden" / "out"

# Added to the Resources of every broken template (SAM or not): what cfn-lint's rules and the
# policy rules both report on a plain resource.
BAD_RESOURCES = """\
  BrokenLogs:
    Type: AWS::Logs::LogGroup
    Properties:
      LogGroupNam: typo
  BrokenQueue:
    Type: AWS::SQS::Queue
    Properties:
      MessageRetentionPeriod: a-week
  BrokenRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: '2012-10-17'
        Statement:
          - Effect: Allow
            Principal: {Service: ecs-tasks.amazonaws.com}
            Action: sts:AssumeRole
      Policies:
        - PolicyName: wide
          PolicyDocument:
            Version: '2012-10-17'
            Statement:
              - Effect: Allow
                Action: '*'
                Resource: '*'
"""
# Two subnets of one VPC that overlap: cfn-lint's E3xxx subnet check carries state from one
# resource to the next, so a SAM template holding subnets is linted without the E3001 restriction.
OVERLAPPING_SUBNETS = """\
  SubnetA:
    Type: AWS::EC2::Subnet
    Properties:
      VpcId: vpc-0123456789abcdef0
      CidrBlock: 10.0.0.0/24
  SubnetB:
    Type: AWS::EC2::Subnet
    Properties:
      VpcId: vpc-0123456789abcdef0
      CidrBlock: 10.0.0.0/25
"""
UNUSED_PARAMETER = "\nParameters:\n  Unused:\n    Type: String\n"

# variant folder → (text replacements in template.yaml, in the .asl.json, rules that must be found)
BROKEN = {
    "nightly-report": ([("\nParameters:\n", UNUSED_PARAMETER), ("\nResources:\n", "\nResources:\n" + BAD_RESOURCES)], [],
                       {"W2001", "E3002", "E3012", "E9001", "E9003", "E9006"}),
    "csv-ingest": ([("\nResources:\n", "\nResources:\n" + BAD_RESOURCES), ("!GetAtt DeadLetterQueue.Arn", "!GetAtt DeadLetterQueue.Arnn")],
                   [], {"E1010", "E3002", "E9001"}),
    "batch-base": ([("\nResources:\n", "\nResources:\n" + BAD_RESOURCES)], [], {"E3012", "E9003"}),
    # SAM: a Runtime only the Lambda function it becomes knows is wrong (E3030 after the transform);
    # cfn-lint does not report unused parameters in a SAM template, and neither may the translated run
    "api-redeploy": ([("Runtime: python3.13", "Runtime: python9.99"), ("\nResources:\n", "\nResources:\n" + BAD_RESOURCES),
                      ("\nParameters:\n", UNUSED_PARAMETER)], [], {"E3030", "E3002", "E9001"}),
    # SAM: the transform itself fails
    "variant-redeploy-cloudtrail": ([("      Timeout: 60\n", "      Timeoutt: 60\n")], [], {"E0001", "E3002"}),
    # SAM with a state machine: a broken definition file, a bad value on the SAM resource
    "stock-trader-task": ([("        Level: ERROR\n", "        Level: ERRORR\n"), ("\nResources:\n", "\nResources:\n" + BAD_RESOURCES)],
                          [('"Next": "', '"Nextt": "')], {"E3601", "E9001"}),
    # SAM with resources a stateful cfn-lint rule looks at: no restriction, same findings
    "variant-sfn-s3-nowait": ([("\nResources:\n", "\nResources:\n" + OVERLAPPING_SUBNETS)], [], {"E3060"}),
}

SAM_HEADER = 'AWSTemplateFormatVersion: "2010-09-09"\nTransform: AWS::Serverless-2016-10-31\nResources:\n'
HANDMADE = {
    # What only the transform generates: a role from Policies (E9001), a rule from a schedule event (E3027)
    "generated.yaml": (SAM_HEADER + """\
  Handler:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: index.handler
      InlineCode: "def handler(event, context):\\n    return event\\n"
      Timeout: 9000
      Policies:
        - Statement:
            - Effect: Allow
              Action: s3:*
              Resource: !Sub "arn:${AWS::Partition}:s3:::data-${AWS::AccountId}/*"
      Events:
        Nightly:
          Type: Schedule
          Properties:
            Schedule: rate(0 minutes)
""", {"E9001", "E3027", "E3034"}),
}


def broken_templates(folder: Path) -> list[Path]:
    paths = []
    for variant, (edits, definition_edits, _) in BROKEN.items():
        target = folder / f"broken-{variant}"
        shutil.copytree(GOLDEN / variant, target)
        template = target / "template.yaml"
        text = template.read_text(encoding="utf-8")
        for old, new in edits:
            assert old in text, (variant, old)
            text = text.replace(old, new, 1)
        template.write_text(text, encoding="utf-8")
        for definition in (target / "statemachine").glob("*.asl.json") if definition_edits else []:
            content = definition.read_text(encoding="utf-8")
            for old, new in definition_edits:
                assert old in content, (variant, old)
                content = content.replace(old, new, 1)
            definition.write_text(content, encoding="utf-8")
        paths.append(template)
    for name, (text, _) in HANDMADE.items():
        (folder / name).write_text(text, encoding="utf-8")
        paths.append(folder / name)
    return paths


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> list[Path]:
    folder = tmp_path_factory.mktemp("equivalence")
    golden = []
    for variant in sorted(path.parent.name for path in GOLDEN.glob("*/template.yaml")):
        shutil.copytree(GOLDEN / variant, folder / variant)
        golden.append(folder / variant / "template.yaml")
    return golden + broken_templates(folder)


@pytest.fixture(scope="module")
def plain(corpus) -> dict[Path, list]:
    """Findings without any shortcut, one template at a time in this process."""
    engine = lint._engine()
    return {path: lint._lint_one(str(path), engine, shortcuts=False) for path in corpus}


def test_the_broken_set_is_broken_as_meant(corpus, plain):
    expected = {**{f"broken-{variant}": rules for variant, (_, _, rules) in BROKEN.items()},
                **{Path(name).stem: rules for name, (_, rules) in HANDMADE.items()}}
    for path, findings in plain.items():
        name = path.parent.name if path.name == "template.yaml" else path.stem
        if name in expected:
            assert expected[name] <= {f.rule for f in findings}, (name, sorted({f.rule for f in findings}))
        else:
            assert findings == [], name  # a golden variant lints clean


def test_the_shortcuts_are_taken_on_this_corpus(corpus, monkeypatch):
    """The comparison below is only worth something if the restricted translated run happens."""
    restricted = []
    real = fast_paths.resource_schema_only_on

    @contextlib.contextmanager
    def recording(rules, logical_ids):
        with real(rules, logical_ids):
            restricted.append("validate" in vars(rules[fast_paths.RESOURCE_SCHEMA_RULE]))  # really restricted
            yield

    monkeypatch.setattr(fast_paths, "resource_schema_only_on", recording)
    for path in corpus:
        if path.parent.name in ("variant-sfn-schedule-input", "broken-variant-sfn-s3-nowait", "broken-api-redeploy"):
            lint._lint_one(str(path), lint._engine())
    assert restricted == [True, True]  # and the subnets' template is linted whole
    assert "AWS::EC2::Subnet" in lint._engine().stateful_types


def test_forked_workers_with_shortcuts_find_exactly_what_the_plain_path_finds(corpus, plain):
    assert lint.lint_paths(corpus, jobs=2) == [finding for path in corpus for finding in plain[path]]


def test_in_process_with_shortcuts_finds_exactly_what_the_plain_path_finds(corpus, plain):
    engine = lint._engine()
    for path in corpus:
        assert lint._lint_one(str(path), engine) == plain[path], path


def test_cfn_lints_own_findings_on_the_template_as_written_are_the_cfn_lint_cli_s(corpus, plain, tmp_path):
    policy_rules = set(lint._engine().policy_rules)
    cli = subprocess.run(
        [sys.executable, "-c", "import sys; from cfnlint.runner import main; sys.argv[0] = 'cfn-lint'; sys.exit(main())",
         "--format", "parseable", *map(str, corpus)],
        capture_output=True, text=True, cwd=tmp_path, check=False,
    )
    assert cli.returncode in (0, 2, 4, 6, 8, 10, 12, 14), cli.stderr  # bit flags: errors, warnings, infos
    from_cli = set()
    for line in cli.stdout.splitlines():
        path, line_number, column, _, _, rule, message = line.split(":", 6)
        if rule[0] in "EW":  # ours drops informational findings
            from_cli.add((path, int(line_number), int(column), rule, message))
    ours = {
        (f.path, f.line, f.column, f.rule, f.message)
        for path in corpus for f in plain[path]
        # cfn-lint's rules on the file as written: not the policy rules, the transform, the
        # translated run or the ASL lint of a definition file
        if f.path == str(path) and f.rule not in policy_rules and not f.rule.startswith("E96")
        and not f.message.startswith("SAM transform failed")
        and "after the SAM transform)" not in f.message and "(generated by the SAM transform" not in f.message
    }
    assert ours and ours == from_cli


def test_every_initialize_override_in_cfn_lint_has_been_read():
    """A rule that resets per-template state in initialize() may carry state between resources; the
    E3001 restriction is exact only if every such rule was read (STATELESS_INITIALIZE) or its
    resource types make a template be linted whole (stateful_types)."""
    from cfnlint.rules import CloudFormationLintRule

    engine = lint._engine()
    overriding = {rule_id for rule_id, rule in engine.all_rules.items()
                  if type(rule).initialize is not CloudFormationLintRule.initialize}
    read_stateless = overriding & set(fast_paths.STATELESS_INITIALIZE)
    stateful = overriding - read_stateless
    assert read_stateless == set(fast_paths.STATELESS_INITIALIZE)
    # cfn-lint 1.58: subnet overlap, VPC endpoint private DNS, CodePipeline artifact names, and the
    # route table association rule (a whole-template rule the restriction does not touch)
    assert {"AWS::EC2::Subnet", "AWS::EC2::VPCEndpoint", "AWS::CodePipeline::Pipeline"} <= engine.stateful_types
    assert stateful, "no stateful rule at all: the guard is untested"


def test_the_installed_cfn_lint_is_the_one_the_shortcuts_were_reviewed_against():
    """A new cfn-lint turns the shortcuts off (same findings, slower) until its source is read again:
    then record the new hashes in fast_paths.REVIEWED_SOURCES."""
    import importlib

    from cfnlint.jsonschema import validators
    from cfnlint.rules.jsonschema.Base import BaseJsonSchema

    resource_rule = lint._engine().all_rules[fast_paths.RESOURCE_SCHEMA_RULE]
    schema_rule_class = importlib.import_module("cfnlint.rules.jsonschema.CfnLintJsonSchema").CfnLintJsonSchema
    functions = {
        "cfnlint.jsonschema.validators.create": validators.create,
        "cfnlint.rules.jsonschema.Base.BaseJsonSchema.extend_validator": BaseJsonSchema.extend_validator,
        "cfnlint.rules.resources.Configuration.Configuration.validate": type(resource_rule).validate,
        # read before the shortcut replaced it (the replacement keeps the original as a closure)
        "cfnlint.rules.jsonschema.CfnLintJsonSchema.CfnLintJsonSchema.__init__":
            schema_rule_class.__init__.__closure__[0].cell_contents,
    }
    assert set(functions) == set(fast_paths.REVIEWED_SOURCES)
    for name, function in functions.items():
        assert fast_paths.source_reviewed(function, name), f"{name} changed in this cfn-lint: read it again"


# --- 3. rule schemas read on first use ---------------------------------------------------------

# Each rule's schema as a hash, in a fresh process (I3013 replaces its own `_schema` as it lints, in
# cfn-lint itself too, so the comparison is made before anything is linted).
_SCHEMA_HASHES = """
import hashlib, json, sys
def hashes(rules):
    return {rule_id: hashlib.sha256(json.dumps(rule.schema, sort_keys=True, default=str).encode()).hexdigest()
            for rule_id, rule in rules.items() if hasattr(rule, "schema")}
if sys.argv[1] == "cfn-lint":
    from cfnlint.config import ConfigMixIn
    from cfnlint.runner import Runner
    print(json.dumps(hashes(Runner(ConfigMixIn([], regions=["us-east-1"])).rules)))
else:
    import generator.checks.engine as lint
    print(json.dumps(hashes(lint._engine().all_rules)))
"""


def test_every_rule_reads_the_schema_cfn_lint_would_have_loaded():
    """cfn-lint builds its rules with their schemas loaded in __init__; the engine's rules read them
    on first use. Every cfn-lint rule's schema is the same."""
    import json

    from support.paths import REPO

    def hashes(which: str) -> dict[str, str]:
        ran = subprocess.run([sys.executable, "-c", _SCHEMA_HASHES, which], capture_output=True, text=True, check=True, cwd=REPO)
        return json.loads(ran.stdout.splitlines()[-1])

    expected, ours = hashes("cfn-lint"), hashes("engine")
    assert len(expected) > 100
    assert {rule_id: ours.get(rule_id) for rule_id in expected} == expected


_LINT_THEN_REPORT_SCHEMAS = """
import importlib, json, sys
import generator.checks.engine as lint
lint.lint_paths(sys.argv[1:], jobs=1, cache_dir=None)
schema_rule = importlib.import_module("cfnlint.rules.jsonschema.CfnLintJsonSchema").CfnLintJsonSchema
print(json.dumps({"shortcut": isinstance(vars(schema_rule)["_schema"], property),
                  "rules": {type(rule).__name__: [("_schema_details" in vars(rule)), ("_loaded_schema" in vars(rule))]
                            for rule in lint._engine().all_rules.values()}}))
"""


def test_rules_for_resource_types_no_template_has_never_read_their_schema(corpus):
    """What the shortcut saves: linting every golden variant and the broken set (in a fresh process)
    never reads the RDS instance-class rules' schema files (about 26 MB), while a rule for a type
    they have (the ECS task definition's log configuration) has read its own."""
    import json

    from support.paths import REPO

    ran = subprocess.run([sys.executable, "-c", _LINT_THEN_REPORT_SCHEMAS, *map(str, corpus)], capture_output=True, text=True,
                         check=True, cwd=REPO)
    report = json.loads(ran.stdout.splitlines()[-1])
    assert report["shortcut"]
    for name in ("DbInstanceDbInstanceClassWithEngine", "DbInstanceDbInstanceClassEnum"):
        assert report["rules"][name] == [True, False], name  # has a schema file, never read it
    assert report["rules"]["LogConfiguration"][1]
