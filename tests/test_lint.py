"""The lint engine: cfn-lint as a library, the project's policy rules, SAM, cache and workers."""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

import pytest
from cfnlint.data import AdditionalSpecs
from cfnlint.helpers import load_resource
from cfnlint.rules import Rules

import generator.checks.engine as lint
from generator.aws.arns import as_text, is_wildcard_resource
from generator.aws.iam import RESOURCE_STAR_ONLY_ACTIONS
from generator.checks.engine import Finding, LintEngineError, default_cache_dir, lint_paths, lint_text
from generator.checks.rules.iam_passrole_condition import grants_pass_role
from generator.checks.rules.iam_wildcard_action import is_wildcard_action
from generator.core.errors import UserError

FIXTURES = Path(__file__).parent / "lint_fixtures"
POLICY_RULE_IDS = sorted(Rules.create_from_directory(str(lint.RULES_DIR)))


def marked_lines(path: Path, rule_id: str) -> set[tuple[str, int]]:
    """(rule, line) for every line of a fixture that ends with the comment ``# <rule_id>``."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return {(rule_id, number) for number, line in enumerate(lines, 1) if line.rstrip().endswith(f"# {rule_id}")}


def line_of(text: str, needle: str) -> int:
    """1-based number of the only line containing ``needle``."""
    numbers = [number for number, line in enumerate(text.splitlines(), 1) if needle in line]
    assert len(numbers) == 1, (needle, numbers)
    return numbers[0]


# --- the policy rules, one good and one bad template each -------------------------------


def test_every_policy_rule_is_loaded_with_the_cfn_lint_rules_and_has_fixtures():
    assert POLICY_RULE_IDS == ["E9001", "E9002", "E9003", "E9004", "E9005", "E9006", "E9008", "E9009", "E9010", "E9011", "W9007"]
    engine = lint._engine()
    assert set(POLICY_RULE_IDS) <= set(engine.all_rules)
    assert "E3002" in engine.all_rules and "E3002" in engine.cfn_rules  # cfn-lint's own rules, same run
    assert set(engine.policy_rules) == set(POLICY_RULE_IDS)
    for rule_id in POLICY_RULE_IDS:
        rule = engine.all_rules[rule_id]
        assert rule.severity == {"E": "error", "W": "warning"}[rule_id[0]]
        assert rule.shortdesc and rule.description and rule.source_url.startswith("https://docs.aws.amazon.com/")
        assert (FIXTURES / f"{rule_id.lower()}_good.yaml").is_file()
        assert (FIXTURES / f"{rule_id.lower()}_bad.yaml").is_file()


@pytest.mark.parametrize("rule_id", POLICY_RULE_IDS)
def test_good_fixture_is_clean(rule_id):
    assert lint_paths([FIXTURES / f"{rule_id.lower()}_good.yaml"], jobs=1) == []


@pytest.mark.parametrize("rule_id", POLICY_RULE_IDS)
def test_bad_fixture_reports_exactly_that_rule_on_the_marked_lines(rule_id):
    bad = FIXTURES / f"{rule_id.lower()}_bad.yaml"
    expected = marked_lines(bad, rule_id)
    assert expected, f"{bad.name} marks no line with '# {rule_id}'"

    findings = lint_paths([bad], jobs=1)

    assert {(f.rule, f.line) for f in findings} == expected
    assert {f.level for f in findings} == {"error" if rule_id.startswith("E") else "warning"}
    assert all(f.path == str(bad) for f in findings)


def test_action_patterns():
    assert all(is_wildcard_action(a) for a in ("*", "s3:*", "SQS:*", "*:*"))
    assert not any(is_wildcard_action(a) for a in ("s3:Get*", "s3:GetObject", {"Ref": "Action"}, None))
    assert all(grants_pass_role(a) for a in ("iam:PassRole", "IAM:passrole", "iam:Pass*", "iam:*", "*"))
    assert not any(grants_pass_role(a) for a in ("iam:GetRole", "iam:PassRoles", "sts:*", {"Fn::Sub": "iam:PassRole"}))


def test_star_only_exceptions_are_actions_aws_defines_without_resource_types():
    """Each exception must be an action the Service Authorization Reference (cfn-lint's copy) gives no resource type."""
    services = load_resource(AdditionalSpecs, "Policies.json")
    for action, reason in RESOURCE_STAR_ONLY_ACTIONS.items():
        service, name = action.split(":")
        definition = services[service]["Actions"][name.lower()]
        assert not definition.get("Resources"), f"{action} supports resource-level permissions: {definition}"
        assert "https://docs.aws.amazon.com/" in reason


def test_values_given_by_intrinsic_functions_do_not_crash_and_are_judged():
    text = """\
AWSTemplateFormatVersion: "2010-09-09"
Conditions:
  Wide: !Equals [!Ref "AWS::Region", us-east-1]
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          Effect: Allow
          Principal: {Service: ecs-tasks.amazonaws.com}
          Action: sts:AssumeRole
      Policies:
        - PolicyName: read
          PolicyDocument: !If
            - Wide
            - Version: "2012-10-17"
              Statement:
                - Effect: Allow
                  Action: s3:*
                  Resource: !Sub "arn:${AWS::Partition}:s3:::data-${AWS::AccountId}/*"
            - Version: "2012-10-17"
              Statement:
                - Effect: Allow
                  Action: [!Ref "AWS::NoValue", s3:GetObject]
                  Resource: !Sub "arn:${AWS::Partition}:s3:::data-${AWS::AccountId}/*"
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      KmsMasterKeyId: !If [Wide, alias/aws/sqs, !Ref "AWS::NoValue"]
"""
    findings = lint_text(text)
    assert [(f.rule, f.line) for f in findings] == [("E9001", line_of(text, "Action: s3:*"))]


def test_deny_statements_may_use_wildcards():
    text = (FIXTURES / "e9003_good.yaml").read_text()
    assert "Effect: Deny" in text and lint_text(text) == []


def test_policy_rules_cannot_be_switched_off_by_the_template():
    text = """\
AWSTemplateFormatVersion: "2010-09-09"
Metadata:
  cfn-lint:
    config:
      ignore_checks: [E9006]
Resources:
  TaskLogs:
    Type: AWS::Logs::LogGroup
"""
    assert [f.rule for f in lint_text(text)] == ["E9006"]


# --- cfn-lint's own findings ------------------------------------------------------------


def test_misspelt_property_is_reported_with_its_line():
    text = (FIXTURES / "e9006_good.yaml").read_text().replace("    Properties:\n      RetentionInDays: 14",
                                                             "    Propertiess:\n      RetentionInDays: 14")
    findings = lint_text(text, name="typo.yaml")
    assert {(f.path, f.rule, f.line, f.level) for f in findings} == {
        ("typo.yaml", "E3001", line_of(text, "Propertiess"), "error"),
        # without Properties the log group has no retention either
        ("typo.yaml", "E9006", line_of(text, "TaskLogs:"), "error"),
    }
    assert "Propertiess" in next(f.message for f in findings if f.rule == "E3001")


def test_wrong_property_type_is_reported_with_its_line():
    text = (FIXTURES / "e9005_good.yaml").read_text().replace(
        "      SqsManagedSseEnabled: true\n", "      SqsManagedSseEnabled: true\n      MessageRetentionPeriod: a-week\n"
    )
    findings = lint_text(text)
    assert [(f.rule, f.line) for f in findings] == [("E3012", line_of(text, "a-week"))]
    assert str(findings[0]).startswith(f"template.yaml:{findings[0].line}:{findings[0].column}: E3012 ")


def test_unparsable_template_is_an_error():
    findings = lint_text("Resources: [unclosed\n")
    assert [f.rule for f in findings] == ["E0000"]


# --- SAM templates ----------------------------------------------------------------------

SAM_FUNCTION = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  Handler:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: index.handler
      InlineCode: |
        def handler(event, context):
            return event
"""


def test_minimal_sam_function_is_clean():
    assert lint_text(SAM_FUNCTION) == []


def test_sam_function_with_a_bad_property_is_reported_by_cfn_lint_and_the_transform():
    text = SAM_FUNCTION.replace("      Handler: index.handler\n", "      Handler: index.handler\n      Timeoutt: 30\n")
    findings = lint_text(text)
    assert {(f.rule, f.line) for f in findings} == {
        ("E3002", line_of(text, "Timeoutt")),  # cfn-lint's SAM schema
        ("E0001", text.splitlines().index("  Handler:") + 1),  # aws-sam-translator, at the resource
    }
    transform_error = next(f for f in findings if f.rule == "E0001")
    assert "Timeoutt" in transform_error.message and "SAM transform failed" in transform_error.message


def test_policy_rules_see_what_the_sam_transform_generates():
    """A SAM-only Policies statement becomes a generated AWS::IAM::Role, which only the translated template has."""
    text = SAM_FUNCTION + """\
      Policies:
        - Statement:
            - Effect: Allow
              Action: s3:*
              Resource: !Sub "arn:${AWS::Partition}:s3:::data-${AWS::AccountId}/*"
"""
    findings = lint_text(text)
    assert [(f.rule, f.line) for f in findings] == [("E9001", line_of(text, "Action: s3:*"))]
    assert "generated by the SAM transform from Handler" in findings[0].message


def test_generated_value_without_a_position_points_at_the_sam_resource():
    text = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  Machine:
    Type: AWS::Serverless::StateMachine
    Properties:
      DefinitionUri: statemachine/run.asl.json
      Policies:
        - CloudWatchPutMetricPolicy: {}
"""
    findings = lint_text(text, files={"statemachine/run.asl.json": '{"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}'})
    # SAM's policy template grants cloudwatch:PutMetricData on "*" (it supports resource-level permissions)
    assert [(f.rule, f.line, f.column) for f in findings] == [("E9003", 4, 3)]
    assert "MachineRole" in findings[0].message and "cloudwatch:PutMetricData" in findings[0].message


def test_sam_state_machine_with_local_definition_uri_logging_and_tracing_is_clean():
    """The local DefinitionUri does not break the transform; SAM's generated logging/X-Ray grants are allowed."""
    text = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  MachineLogs:
    Type: AWS::Logs::LogGroup
    Properties:
      RetentionInDays: 30
  Machine:
    Type: AWS::Serverless::StateMachine
    Properties:
      DefinitionUri: statemachine/run.asl.json
      DefinitionSubstitutions:
        TaskFamily: report
      Tracing:
        Enabled: true
      Logging:
        Level: ERROR
        IncludeExecutionData: false
        Destinations:
          - CloudWatchLogsLogGroup:
              LogGroupArn: !GetAtt MachineLogs.Arn
      Policies:
        - Statement:
            - Effect: Allow
              Action: ecs:RunTask
              Resource: !Sub "arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:task-definition/report:*"
"""
    definition = '{"StartAt": "Run", "States": {"Run": {"Type": "Pass", "Result": "${TaskFamily}", "End": true}}}'
    assert lint_text(text, files={"statemachine/run.asl.json": definition}) == []


def test_sam_state_machine_whose_definition_file_is_missing_is_an_error():
    text = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  Machine:
    Type: AWS::Serverless::StateMachine
    Properties:
      DefinitionUri: statemachine/run.asl.json
      Policies: []
"""
    (finding,) = lint_text(text)
    assert finding.rule == "E9600" and "cannot read the state machine definition" in finding.message


def test_sam_template_without_aws_sam_translator_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "samtranslator", None)  # makes `import samtranslator` fail
    with pytest.raises(LintEngineError, match="needs aws-sam-translator"):
        lint_text(SAM_FUNCTION)
    # templates without the transform do not need it
    assert lint_text((FIXTURES / "e9006_good.yaml").read_text()) == []


# --- cache -----------------------------------------------------------------------------


@pytest.fixture
def batch_calls(monkeypatch):
    """Record the templates each internal cfn-lint batch run gets."""
    calls: list[list[str]] = []
    real_batch = lint._lint_batch

    def counting_batch(paths, rule_dirs=()):
        calls.append(list(paths))
        return real_batch(paths, rule_dirs)

    monkeypatch.setattr(lint, "_lint_batch", counting_batch)
    return calls


def copy_fixtures(tmp_path: Path, names: list[str]) -> list[Path]:
    paths = []
    for name in names:
        shutil.copy(FIXTURES / name, tmp_path / name)
        paths.append(tmp_path / name)
    return paths


def test_cache_reuses_results_and_relints_only_a_changed_file(tmp_path, batch_calls):
    good, bad = copy_fixtures(tmp_path, ["e9006_good.yaml", "e9005_bad.yaml"])
    cache = tmp_path / "cache"

    first = lint_paths([good, bad], cache_dir=cache, jobs=1)
    assert batch_calls == [[str(good), str(bad)]]
    assert {f.rule for f in first} == {"E9005"}

    second = lint_paths([good, bad], cache_dir=cache, jobs=1)
    assert batch_calls == [[str(good), str(bad)]]  # cfn-lint not run again
    assert second == first

    good.write_text(good.read_text().replace("RetentionInDays: 14\n", "LogGroupName: /ecs/x\n"))
    third = lint_paths([good, bad], cache_dir=cache, jobs=1)
    assert batch_calls[1:] == [[str(good)]]  # only the changed file
    assert [f.rule for f in third if f.path == str(good)] == ["E9006"]
    assert [f for f in third if f.path == str(bad)] == [f for f in first if f.path == str(bad)]


def test_corrupted_cache_entries_are_ignored(tmp_path, batch_calls):
    (bad,) = copy_fixtures(tmp_path, ["w9007_bad.yaml"])
    cache = tmp_path / "cache"
    first = lint_paths([bad], cache_dir=cache, jobs=1)
    entries = list(cache.glob("*.json"))
    assert len(entries) == 1 and json.loads(entries[0].read_text())["findings"]

    for corrupt in ("{not json", json.dumps({"key": "other", "findings": []}), json.dumps({"findings": [[1]]})):
        entries[0].write_text(corrupt)
        assert lint_paths([bad], cache_dir=cache, jobs=1) == first
    assert len(batch_calls) == 4


def test_cache_key_covers_the_rule_sources(tmp_path, monkeypatch):
    rules_copy = tmp_path / "lint_rules"
    shutil.copytree(lint.RULES_DIR, rules_copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(lint, "RULES_DIR", rules_copy)
    before = lint._project_fingerprint.__wrapped__()
    rule_file = rules_copy / "logs_log_group_retention.py"
    rule_file.write_text(rule_file.read_text() + "\n# changed\n")
    assert lint._project_fingerprint.__wrapped__() != before


@pytest.fixture
def fresh_fingerprint():
    """The engine fingerprint is computed once per process: recompute it in this test, and after it."""
    lint._project_fingerprint.cache_clear()
    yield
    lint._project_fingerprint.cache_clear()


def test_a_new_cfn_lint_version_or_rule_change_invalidates_the_cache(tmp_path, batch_calls, monkeypatch, fresh_fingerprint):
    (bad,) = copy_fixtures(tmp_path, ["w9007_bad.yaml"])
    cache = tmp_path / "cache"
    first = lint_paths([bad], cache_dir=cache, jobs=1)
    key = lint.cache_key()
    assert lint_paths([bad], cache_dir=cache, jobs=1) == first and len(batch_calls) == 1

    real_version = lint._package_version
    with monkeypatch.context() as patch:
        patch.setattr(lint, "_package_version", lambda name: "9.9.9" if name == "cfn-lint" else real_version(name))
        lint._project_fingerprint.cache_clear()
        assert lint.cache_key() != key and "cfn-lint-9.9.9-" in lint.cache_key()
        assert lint_paths([bad], cache_dir=cache, jobs=1) == first
        assert len(batch_calls) == 2  # linted again under the new version

    rules_copy = tmp_path / "lint_rules"
    shutil.copytree(lint.RULES_DIR, rules_copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(lint, "RULES_DIR", rules_copy)
    (rules_copy / "sns_topic_encrypted.py").write_text((rules_copy / "sns_topic_encrypted.py").read_text() + "\n# changed\n")
    lint._project_fingerprint.cache_clear()
    assert lint.cache_key() != key
    lint_paths([bad], cache_dir=cache, jobs=1)
    assert len(batch_calls) == 3  # and again after a rule changed


def test_cache_dir_from_the_option_or_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv(lint.CACHE_DIR_VARIABLE, raising=False)
    assert lint.lint_cache_dir() == default_cache_dir()
    monkeypatch.setenv(lint.CACHE_DIR_VARIABLE, str(tmp_path / "ci-cache"))
    assert lint.lint_cache_dir() == tmp_path / "ci-cache" / "lint"
    assert lint.lint_cache_dir(tmp_path / "given") == tmp_path / "given" / "lint"


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / "ecs-batch-templates" / "lint"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/dir")  # invalid per the XDG spec: ignored
    assert default_cache_dir() == Path.home() / ".cache" / "ecs-batch-templates" / "lint"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_cache_dir() == Path.home() / ".cache" / "ecs-batch-templates" / "lint"


# --- worker processes -------------------------------------------------------------------


def test_worker_count():
    assert lint._worker_count(lint.PARALLEL_THRESHOLD, None) == 1
    assert lint._worker_count(20, 1) == 1
    assert lint._worker_count(20, 2) == 2
    assert lint._worker_count(10, 64) == 10


@pytest.mark.slow  # the whole command: every template linted, worker processes each setting up cfn-lint
def test_parallel_lint_gives_the_same_findings_as_serial(tmp_path, monkeypatch):
    names = sorted(path.name for path in FIXTURES.glob("*.yaml"))[:10]
    paths = copy_fixtures(tmp_path, names)
    pools = []
    real_pool = lint.ProcessPoolExecutor

    def counting_pool(*args, **kwargs):
        pools.append(kwargs.get("max_workers"))
        return real_pool(*args, **kwargs)

    monkeypatch.setattr(lint, "ProcessPoolExecutor", counting_pool)

    serial = lint_paths(paths, jobs=1)
    assert pools == []
    parallel = lint_paths(paths, jobs=2)
    assert pools == [2]
    assert parallel == serial
    assert {f.rule for f in serial} >= {"E9001", "E9002", "E9003", "E9004", "E9005"}
    # findings come in the order the templates were given
    order = [names.index(Path(f.path).name) for f in parallel]
    assert order == sorted(order)


def test_finding_format():
    finding = Finding("templates_out/a/template.yaml", 12, 7, "E9003", "error", "Role: too wide")
    assert str(finding) == "templates_out/a/template.yaml:12:7: E9003 Role: too wide"
    assert re.fullmatch(r"[^:]+:\d+:\d+: [EW]\d{4} .+", str(finding))


# --- key policies, NotAction/NotResource, ARNs as wide as "*", public principals ----------

from generator.checks.rules._policy import principal_is_this_account  # noqa: E402

pytestmark = pytest.mark.lint


def test_arns_as_wide_as_star():
    sub = lambda text: {"Fn::Sub": text}  # noqa: E731
    wide = [
        "*",
        "arn:aws:s3:::*",
        "arn:aws:s3:::*/*",
        sub("arn:${AWS::Partition}:sqs:*:*:*"),
        sub("arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:*"),  # every queue of the account
        sub("arn:${AWS::Partition}:kms:*:*:key/*"),  # every key, any region and account
        "arn:aws:iam::*:role/*",  # IAM has no region: the account alone is "*"
        sub("*"),
        sub(["arn:${Partition}:sqs:*:*:${Queue}", {"Partition": {"Ref": "AWS::Partition"}, "Queue": "*"}]),
        {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":s3:::*"]]},
    ]
    scoped = [
        sub("arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:task-definition/${TaskFamily}:*"),
        sub("arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:task/${Cluster}/*"),
        sub("arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/ecs/x:*"),
        sub("arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:${LogGroup}:log-stream:*"),
        sub("arn:${AWS::Partition}:s3:::bucket/*"),
        sub("arn:${AWS::Partition}:s3:::sample-bucket-*/test/aaa/*"),
        sub("arn:${AWS::Partition}:kms:*:${AWS::AccountId}:key/*"),  # one account: not every account
        "arn:aws:s3:::${aws:username}/*",  # an IAM policy variable is not a wildcard
        sub(["${Bucket}/*", {"Bucket": {"Fn::GetAtt": ["Bucket", "Arn"]}}]),
        sub(["arn:aws:sqs:*:*:${Queue}", {"Queue": {"Fn::ImportValue": "queue-name"}}]),  # cannot be read: not judged
        {"Ref": "QueueArn"},
        {"Fn::GetAtt": ["Queue", "Arn"]},
        {"Fn::ImportValue": "queue-arn"},
        {"Fn::Join": ["", ["arn:aws:s3:::", {"Fn::ImportValue": "bucket"}, "/*"]]},
        "arn:aws:s3:::",
        "",
        None,
    ]
    assert [value for value in wide if not is_wildcard_resource(value)] == []
    assert [value for value in scoped if is_wildcard_resource(value)] == []


def test_intrinsics_read_as_text():
    assert as_text({"Ref": "AWS::AccountId"}) == "${AWS::AccountId}"
    assert as_text({"Fn::GetAtt": ["Role", "Arn"]}) == as_text({"Fn::GetAtt": "Role.Arn"}) == "${Role.Arn}"
    assert as_text({"Fn::Sub": ["a-${X}-${!Y}", {"X": {"Ref": "P"}}]}) == "a-${P}-${!Y}"
    assert as_text({"Fn::Sub": ["a-${X}", {"X": {"Fn::ImportValue": "x"}}]}) == "a-${?}"
    assert as_text({"Fn::Join": [":", ["a", {"Ref": "B"}]]}) == "a:${B}"
    assert as_text({"Fn::ImportValue": "x"}) is None and as_text({"Fn::If": ["C", "a", "b"]}) is None


def test_the_account_itself_as_a_principal():
    root = "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"
    this_account = [
        {"AWS": {"Fn::Sub": root}},
        {"AWS": [{"Fn::Sub": root}]},
        {"AWS": {"Ref": "AWS::AccountId"}},
        {"AWS": {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":iam::", {"Ref": "AWS::AccountId"}, ":root"]]}},
        {"AWS": {"Fn::Sub": ["arn:${AWS::Partition}:iam::${Account}:root", {"Account": {"Ref": "AWS::AccountId"}}]}},
    ]
    not_this_account = [
        {"AWS": "arn:aws:iam::123456789012:root"},  # a literal account is not known to be this one
        {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/admin"}},
        {"AWS": [{"Fn::Sub": root}, {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/admin"}]},
        {"AWS": {"Fn::Sub": root}, "Service": "events.amazonaws.com"},
        {"AWS": "*"},
        {"AWS": []},
        "*",
    ]
    assert all(principal_is_this_account({"Principal": principal}) for principal in this_account)
    assert not any(principal_is_this_account({"Principal": principal}) for principal in not_this_account)
    assert not principal_is_this_account({"NotPrincipal": this_account[0]})


KEY_POLICY = """\
AWSTemplateFormatVersion: "2010-09-09"
Resources:
  AlertTopicKey:
    Type: AWS::KMS::Key
    Properties:
      EnableKeyRotation: true
      KeyPolicy:
        Version: "2012-10-17"
        Statement:
          - Sid: AccountAdministersKey
            Effect: Allow
            Principal:
              AWS:
                - !Sub arn:${AWS::Partition}:iam::${AWS::AccountId}:root
            Action:
              - kms:*
            Resource:
              - '*'
          - Sid: AlertPublishersEncrypt
            Effect: Allow
            Principal:
              Service:
                - events.amazonaws.com
                - cloudwatch.amazonaws.com
            Action:
              - kms:Decrypt
              - kms:GenerateDataKey
            Resource:
              - '*'
            Condition:
              StringEquals:
                aws:SourceAccount: !Sub ${AWS::AccountId}
"""


def test_generated_alert_key_policy_is_clean_and_scanned():
    """The alert topic key's policy as the alerts render it: AWS's default account statement plus
    the two publishing services; change who gets kms:* and it is reported."""
    assert lint_text(KEY_POLICY) == []
    to_a_role = KEY_POLICY.replace(":root", ":role/admin")
    assert [(f.rule, f.line) for f in lint_text(to_a_role)] == [("E9001", line_of(to_a_role, "- kms:*"))]
    # a literal account id may be another account
    literal = KEY_POLICY.replace("!Sub arn:${AWS::Partition}:iam::${AWS::AccountId}:root", "arn:aws:iam::123456789012:root")
    assert [f.rule for f in lint_text(literal)] == ["E9001"]
    # Resource "*" in a key policy is the key: no E9003 even for actions with resource-level permissions
    services_admin = KEY_POLICY.replace("- kms:GenerateDataKey", "- kms:ScheduleKeyDeletion")
    assert lint_text(services_admin) == []


def test_key_policy_given_as_a_json_string_is_scanned():
    text = """\
AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Key:
    Type: AWS::KMS::Key
    Properties:
      EnableKeyRotation: true
      KeyPolicy: '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kms:*", "Resource": "*"}]}'
"""
    findings = lint_text(text)
    assert sorted(f.rule for f in findings) == ["E9001", "E9008"]


def test_allow_with_not_action_or_not_resource_is_judged_like_a_wildcard():
    text = """\
AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Policy:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      PolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            NotAction: s3:*
            Resource: "*"
          - Effect: Allow
            NotAction:
              - iam:*
              - s3:*
            NotResource: !Sub arn:${AWS::Partition}:s3:::input-${AWS::AccountId}/*
          - Effect: Deny
            NotAction: s3:GetObject
            NotResource: !Sub arn:${AWS::Partition}:s3:::input-${AWS::AccountId}/*
"""
    findings = lint_text(text)
    first = line_of(text, "NotAction: s3:*")
    second = line_of(text, "- iam:*") - 1
    second_not_resource = second + 3
    assert text.splitlines()[second_not_resource - 1].strip().startswith("NotResource:")
    assert sorted((f.rule, f.line) for f in findings) == sorted([
        ("E9001", first),  # every action but s3
        ("E9002", first - 1),  # ... which includes iam:PassRole, without an iam:PassedToService condition
        ("E9003", first + 1),  # ... on every resource
        ("E9001", second),  # every action but IAM and S3 (iam:* excludes PassRole: no E9002)
        ("E9003", second_not_resource),  # ... on every resource but one; the Deny statement is fine
    ])
    not_resource = next(f for f in findings if (f.rule, f.line) == ("E9003", second_not_resource))
    assert "NotResource" in not_resource.message and "every action but those in NotAction" in not_resource.message


def test_not_action_that_leaves_pass_role_in_needs_the_condition():
    text = """\
AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Policy:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      PolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            NotAction: s3:*
            Resource: !Sub arn:${AWS::Partition}:iam::${AWS::AccountId}:role/job-task-role
            Condition:
              StringEquals:
                iam:PassedToService: ecs-tasks.amazonaws.com
"""
    assert [f.rule for f in lint_text(text)] == ["E9001"]  # NotAction is still reported; PassRole is conditioned


def test_public_principal_with_a_condition_is_allowed():
    text = (FIXTURES / "e9008_bad.yaml").read_text()
    conditioned = text.replace(
        "            Action: sts:AssumeRole\n",
        "            Action: sts:AssumeRole\n            Condition:\n              StringEquals:\n"
        "                aws:PrincipalOrgID: o-abcdef1234\n",
    )
    expected = marked_lines(FIXTURES / "e9008_bad.yaml", "E9008") - {("E9008", line_of(text, 'AWS: "*"') - 1)}
    assert {(f.rule, f.line) for f in lint_text(conditioned)} == expected
    assert len(expected) == 3


def test_key_policy_in_a_sam_template_is_linted_once():
    """Policy rules run on the translated SAM template: a key policy there is judged, and each finding reported once."""
    text = SAM_FUNCTION + KEY_POLICY.split("Resources:\n", 1)[1].replace(
        "                - !Sub arn:${AWS::Partition}:iam::${AWS::AccountId}:root", "                - '*'"
    )
    findings = lint_text(text)
    assert sorted(f.rule for f in findings) == ["E9001", "E9008"]


# --- the user's own rules: --append-rules DIR ---------------------------------------------------------

TEAM_RULES = Path(__file__).parent / "plugins" / "acme_blueprints" / "lint_rules"  # E9901: queues keep messages 14 days
SHORT_RETENTION_QUEUE = ("Resources:\n  Queue:\n    Type: AWS::SQS::Queue\n    Properties:\n      SqsManagedSseEnabled: true\n"
                         "      MessageRetentionPeriod: 345600\n")


def user_rule_folder(tmp_path: Path, name: str, rule_id: str, *, flags: bool = True) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    source = (TEAM_RULES / "queue_retention.py").read_text().replace('id = "E9901"', f'id = "{rule_id}"')
    if not flags:
        source = source.replace("            if properties.get", "            if False and properties.get")
    (folder / "queue_retention.py").write_text(source)
    return folder


def test_appended_rules_run_with_ours_and_are_part_of_the_cache_key(tmp_path):
    template = tmp_path / "template.yaml"
    template.write_text(SHORT_RETENTION_QUEUE)
    cache = tmp_path / "cache"
    assert lint_paths([template], cache_dir=cache, jobs=1) == []  # cached clean, without the team's rule
    (finding,) = lint_paths([template], cache_dir=cache, jobs=1, append_rules=[TEAM_RULES])
    assert (finding.rule, finding.level) == ("E9901", "error")
    # the same folder name with other rule sources is another key: never the first folder's result
    quiet = user_rule_folder(tmp_path, "quiet", "E9901", flags=False)
    assert lint_paths([template], cache_dir=cache, jobs=1, append_rules=[quiet]) == []
    assert [f.rule for f in lint_paths([template], cache_dir=cache, jobs=1, append_rules=[TEAM_RULES])] == ["E9901"]


def test_appended_rules_also_see_what_the_sam_transform_makes(tmp_path):
    sam = ('AWSTemplateFormatVersion: "2010-09-09"\nTransform: AWS::Serverless-2016-10-31\nResources:\n'
           "  Queue:\n    Type: AWS::SQS::Queue\n    Properties:\n      SqsManagedSseEnabled: true\n")
    assert [f.rule for f in lint_text(sam, append_rules=[TEAM_RULES])] == ["E9901"]


@pytest.mark.parametrize("make, message", [
    (lambda tmp: tmp / "missing", "is not a folder of cfn-lint rules"),
    (lambda tmp: user_rule_folder(tmp, "clash", "E9001"), "rule id E9001 is already used by this project; give the rule another 9xxx id"),
    (lambda tmp: user_rule_folder(tmp, "builtin", "E3002"), "rule id 'E3002'; allowed: E9xxx or W9xxx"),
    (lambda tmp: (tmp / "empty").mkdir() or tmp / "empty", "no cfn-lint rule found"),
])
def test_a_folder_that_is_not_usable_is_one_error_naming_it(tmp_path, run_cli, make, message):
    folder = make(tmp_path)
    with pytest.raises(UserError) as raised:
        lint_paths([FIXTURES / "e9006_good.yaml"], append_rules=[folder])
    assert raised.value.field == "--append-rules" and message in raised.value.message


def test_two_folders_may_not_share_a_rule_id(tmp_path):
    with pytest.raises(UserError, match="rule id E9950 is already used by another folder"):
        lint_paths([FIXTURES / "e9006_good.yaml"], append_rules=[user_rule_folder(tmp_path, "a", "E9950"),
                                                                 user_rule_folder(tmp_path, "b", "E9950")])


def test_lint_command_takes_append_rules(project, run_cli):
    assert run_cli("render", cwd=project).code == 0
    result = run_cli("lint", "--append-rules", str(TEAM_RULES), "batch-base", "nightly-report", cwd=project)
    assert result.code == 0 and "2 template(s) clean" in result.out  # our queues keep 14 days
    result = run_cli("lint", "--append-rules", "no-such-folder", cwd=project)
    assert result.code == 2 and result.err == "error: --append-rules: 'no-such-folder' is not a folder of cfn-lint rules\n"


def test_the_rule_engine_is_built_once_however_it_is_asked_for():
    """The ASL lint asks for rule_engine() and the template lint for rule_engine(()): one engine,
    not cfn-lint's rules built twice per process (a second ~65 MB in every lint worker)."""
    from generator.checks.cfn_setup import rule_engine

    assert rule_engine() is rule_engine(()) is rule_engine(tuple())
