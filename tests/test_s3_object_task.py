"""s3_object_task: the bucket, the rule pattern (checked against real sample events with moto's
pattern engine), the ECS target and its InputTransformer (checked with awkward keys), IAM."""

from __future__ import annotations

import itertools
import json
import re

import pytest

from generator.aws.event_rules import (MAX_INPUT_TEMPLATE, MAX_RUN_TASK_OVERRIDES, S3KeyFilter, json_input_transformer, s3_encode,
                                      s3_object_created_pattern)
from generator.core.errors import UserError
from generator.review.event_simulator import apply_input_transformer, pattern_matches
from support.expected_iam import PASS_ROLE, RUN_TASK, policy_statements
from support.manifests import NETWORK_PARAMETERS, manifest_text, one_resource, render_text, resources_of_type
from support.paths import REFERENCE_EVENTS

BUCKET_PARAMETERS = NETWORK_PARAMETERS + 'BucketName = "example-bucket"\n'
KEY_PATHS = {"S3_BUCKET": "$.detail.bucket.name", "OBJECT_KEY": "$.detail.object.key"}


def render(tmp_path, options: str, parameters: str = BUCKET_PARAMETERS):
    return render_text(tmp_path, manifest_text("job", "s3_object_task", options, parameters))["job"]


def reference_event(name: str = "s3-object-created.json", **detail) -> dict:
    event = json.loads((REFERENCE_EVENTS / name).read_text())
    if "bucket" in detail:
        event["detail"]["bucket"]["name"] = detail["bucket"]
    if "key" in detail:
        event["detail"]["object"]["key"] = detail["key"]
    return event


def rule_pattern(template: dict, bucket: str = "example-bucket") -> dict:
    """The rendered EventPattern with the BucketName parameter's value put in."""
    pattern = template["Resources"]["ObjectCreatedRule"]["Properties"]["EventPattern"]
    assert pattern["detail"]["bucket"]["name"] == [{"Ref": "BucketName"}]
    return {**pattern, "detail": {**pattern["detail"], "bucket": {"name": [bucket]}}}


def target_of(template: dict) -> dict:
    (target,) = template["Resources"]["ObjectCreatedRule"]["Properties"]["Targets"]
    return target


def container_sees(template: dict, event: dict) -> dict[str, str]:
    """The environment the container gets for `event`, through EventBridge's transformation."""
    transformer = target_of(template)["InputTransformer"]
    text, notes = apply_input_transformer(transformer["InputPathsMap"], transformer["InputTemplate"], event)
    assert notes == []
    overrides = json.loads(text)  # raises if the transformed input is not valid JSON
    (override,) = overrides["containerOverrides"]
    return {item["name"]: item["value"] for item in override["environment"]}


def test_created_bucket_is_encrypted_private_tls_only_and_sends_events_to_eventbridge(tmp_path):
    template = render(tmp_path, 'container_name = "app"\nkey_prefix = "test/aaa/complete.txt"').template
    bucket = one_resource(template, "AWS::S3::Bucket")
    assert bucket["DeletionPolicy"] == "Retain" and bucket["UpdateReplacePolicy"] == "Retain"
    assert bucket["Properties"] == {
        "BucketName": {"Ref": "BucketName"},
        "BucketEncryption": {"ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]},
        "PublicAccessBlockConfiguration": {"BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True, "RestrictPublicBuckets": True},
        "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
        "NotificationConfiguration": {"EventBridgeConfiguration": {"EventBridgeEnabled": True}},
    }
    policy = one_resource(template, "AWS::S3::BucketPolicy")["Properties"]
    assert policy["Bucket"] == {"Ref": "Bucket"}
    assert policy["PolicyDocument"]["Statement"] == [{
        "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": ["s3:*"],
        "Resource": [{"Fn::GetAtt": ["Bucket", "Arn"]}, {"Fn::Sub": ["${Bucket}/*", {"Bucket": {"Fn::GetAtt": ["Bucket", "Arn"]}}]}],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }]
    assert template["Parameters"]["BucketName"]["Type"] == "String"
    assert re.fullmatch(template["Parameters"]["BucketName"]["AllowedPattern"], "sample-bucket-dev")
    assert not re.fullmatch(template["Parameters"]["BucketName"]["AllowedPattern"], "Sample_Bucket")


def test_kms_encryption_and_versioning(tmp_path):
    template = render(tmp_path, 'container_name = "app"\nbucket_encryption = "aws:kms"\nbucket_versioning = true').template
    props = one_resource(template, "AWS::S3::Bucket")["Properties"]
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"] == [
        {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}, "BucketKeyEnabled": True}]
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}


def test_rule_pattern_is_object_created_in_the_bucket_with_the_key_prefix(tmp_path):
    template = render(tmp_path, 'container_name = "app"\nkey_prefix = "test/aaa/complete.txt"').template
    rule = template["Resources"]["ObjectCreatedRule"]["Properties"]
    assert rule["EventPattern"] == {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": [{"Ref": "BucketName"}]}, "object": {"key": [{"prefix": "test/aaa/complete.txt"}]}},
    }
    assert rule["State"] == "ENABLED"


@pytest.mark.parametrize("key", ["test/aaa/complete.txt", "test/aaa/complete.txt.done"])
def test_documented_sample_event_matches_with_keys_under_the_prefix(tmp_path, key):
    pattern = rule_pattern(render(tmp_path, 'container_name = "app"\nkey_prefix = "test/aaa/complete.txt"').template)
    assert pattern_matches(pattern, reference_event(bucket="example-bucket", key=key))


@pytest.mark.parametrize("event", [
    reference_event(bucket="other-bucket", key="test/aaa/complete.txt"),           # another bucket
    reference_event(bucket="example-bucket", key="Test/aaa/complete.txt"),         # prefix differs by case
    reference_event(bucket="example-bucket", key="test/aab/complete.txt"),         # sibling prefix
    reference_event(bucket="example-bucket", key="test/aa/complete.txt"),          # shorter sibling
    reference_event("s3-object-deleted.json", bucket="example-bucket", key="test/aaa/complete.txt"),  # Object Deleted
], ids=["other-bucket", "case", "sibling", "shorter-sibling", "object-deleted"])
def test_near_misses_do_not_match(tmp_path, event):
    pattern = rule_pattern(render(tmp_path, 'container_name = "app"\nkey_prefix = "test/aaa/complete.txt"').template)
    assert not pattern_matches(pattern, event)


def test_filters_are_compared_with_the_url_encoded_key_s3_sends(tmp_path):
    rendered = render(tmp_path, 'container_name = "app"\nkey_prefix = "raw/date=2025-01-01/"\nkey_suffix = " final.csv"')
    pattern = rule_pattern(rendered.template)
    # Two filters in one array would be OR'ed; one wildcard means prefix AND suffix.
    assert pattern["detail"]["object"] == {"key": [{"wildcard": "raw/date%3D2025-01-01/*+final.csv"}]}
    # the sample event: a key with a space and "=", as S3 encodes it
    sample = json.loads((REFERENCE_EVENTS.parent / "s3-object-created-encoded-key.json").read_text())
    sample["detail"]["object"]["key"] = "raw/date%3D2025-01-01/my+final.csv"
    assert pattern_matches(pattern, sample)
    for near_miss in ("raw/date=2025-01-01/my final.csv",       # the decoded key: S3 never sends it
                      "raw/date%3D2025-01-02/my+final.csv", "raw/date%3D2025-01-01/my+final.csv.gz"):
        sample["detail"]["object"]["key"] = near_miss
        assert not pattern_matches(pattern, sample), near_miss
    # the stack README shows both forms
    readme = rendered.files["job/README.md"]
    assert "`key_prefix` `raw/date=2025-01-01/` is compared as `raw/date%3D2025-01-01/`" in readme
    assert "urllib.parse.unquote_plus" in readme


@pytest.mark.parametrize("options, key_filter", [
    ('key_prefix = "raw/a b+c%d/"', [{"prefix": "raw/a+b%2Bc%25d/"}]),
    ('key_suffix = "日本.csv"', [{"suffix": "%E6%97%A5%E6%9C%AC.csv"}]),
    ('key_wildcard = "raw/*/my file (1).csv"', [{"wildcard": "raw/*/my+file+%281%29.csv"}]),
    ('key_wildcard = "raw\\\\\\\\x/*.csv"', [{"wildcard": "raw%5Cx/*.csv"}]),  # an escaped backslash is a literal one
])
def test_every_character_s3_encodes_is_encoded_in_the_filter(tmp_path, options, key_filter):
    pattern = rule_pattern(render(tmp_path, f'container_name = "app"\n{options}').template)
    assert pattern["detail"]["object"] == {"key": key_filter}


@pytest.mark.parametrize("options, key_filter", [
    ('key_suffix = ".csv"', [{"suffix": ".csv"}]),
    ('key_wildcard = "raw/*/part-*.parquet"', [{"wildcard": "raw/*/part-*.parquet"}]),
])
def test_suffix_and_wildcard_filters(tmp_path, options, key_filter):
    pattern = rule_pattern(render(tmp_path, f'container_name = "app"\n{options}').template)
    assert pattern["detail"]["object"] == {"key": key_filter}


def test_without_a_filter_every_key_matches_and_restores_can_be_added(tmp_path):
    pattern = rule_pattern(render(tmp_path, 'container_name = "app"\nrestore_completed = true').template)
    assert "object" not in pattern["detail"]
    assert pattern["detail-type"] == ["Object Created", "Object Restore Completed"]
    assert pattern_matches(pattern, reference_event(bucket="example-bucket", key="anything/at/all"))


def test_target_runs_the_family_on_fargate_with_the_bucket_and_key_in_the_environment(tmp_path):
    template = render(tmp_path, 'container_name = "app"\ncommand = ["python", "ingest.py"]\nenvironment = { MODE = "full" }').template
    target = target_of(template)
    assert target["Arn"] == {"Ref": "ClusterArn"}
    assert target["RoleArn"] == {"Fn::GetAtt": ["RunTaskRole", "Arn"]}
    ecs = target["EcsParameters"]
    assert ecs["TaskDefinitionArn"] == {"Fn::Sub": "arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:task-definition/${TaskFamily}"}
    assert (ecs["LaunchType"], ecs["PlatformVersion"], ecs["TaskCount"]) == ("FARGATE", "LATEST", 1)
    assert ecs["NetworkConfiguration"]["AwsVpcConfiguration"] == {
        "Subnets": {"Ref": "Subnets"}, "SecurityGroups": {"Ref": "SecurityGroups"}, "AssignPublicIp": "DISABLED"}
    assert "Input" not in target
    assert target["InputTransformer"]["InputPathsMap"] == KEY_PATHS
    # Placeholders are bare (never inside quotes): EventBridge then inserts each value as JSON.
    assert target["InputTransformer"]["InputTemplate"] == (
        '{"containerOverrides":[{"name":"app","command":["python","ingest.py"],"environment":['
        '{"name":"MODE","value":"full"},{"name":"S3_BUCKET","value":<S3_BUCKET>},{"name":"OBJECT_KEY","value":<OBJECT_KEY>}]}]}')
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400}
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}}
    assert container_sees(template, reference_event()) == {"MODE": "full", "S3_BUCKET": "example-bucket", "OBJECT_KEY": "example-key"}


AWKWARD_KEYS = {
    "space": "reports/2024 06/sales report.csv",
    "plus": "reports/a+b=c&d.csv",
    "quote": 'reports/say "hi".csv',
    "backslash": "reports\\windows\\path\\",
    "non-ascii": "レポート/売上 2024年.csv",
    "emoji-and-controls": "x/\U0001F600\ttab",
    "json-looking": '"},{"name":"INJECTED","value":"1',
    "angle-brackets": "x/<OBJECT_KEY>/<S3_BUCKET>",
    "1024-bytes": "k/" + "é" * 511,  # 2 + 511 * 2 = 1024 bytes of UTF-8, S3's maximum
}


@pytest.mark.parametrize("key", AWKWARD_KEYS.values(), ids=AWKWARD_KEYS.keys())
def test_the_container_sees_every_key_s3_allows_exactly(tmp_path, key):
    assert len(AWKWARD_KEYS["1024-bytes"].encode()) == 1024
    template = render(tmp_path, 'container_name = "app"').template
    environment = container_sees(template, reference_event(key=key))
    assert environment == {"S3_BUCKET": "example-bucket", "OBJECT_KEY": key}


def test_a_quoted_placeholder_would_break_on_a_quote_which_is_why_placeholders_are_bare():
    quoted = '{"containerOverrides":[{"name":"app","environment":[{"name":"OBJECT_KEY","value":"<OBJECT_KEY>"}]}]}'
    text, _ = apply_input_transformer(KEY_PATHS, quoted, reference_event(key=AWKWARD_KEYS["quote"]))
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)


def test_run_task_role_and_dead_letter_queue_use_the_shared_least_privilege_pieces(tmp_path):
    template = render(tmp_path, 'container_name = "app"').template
    role = template["Resources"]["RunTaskRole"]
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": ["events.amazonaws.com"]}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Fn::Sub": "${AWS::AccountId}"}}}
    assert policy_statements(role) == [RUN_TASK, PASS_ROLE]
    queue_policy = one_resource(template, "AWS::SQS::QueuePolicy")["Properties"]["PolicyDocument"]["Statement"]
    assert queue_policy[0]["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": ["ObjectCreatedRule", "Arn"]}}}


def test_existing_bucket_creates_no_bucket_and_says_notifications_must_be_on(tmp_path):
    stack = render(tmp_path, 'container_name = "app"\nexisting_bucket = "shared-landing-zone"\ndead_letter_queue = false',
                   parameters=NETWORK_PARAMETERS)
    template = stack.template
    assert not resources_of_type(template, "AWS::S3::Bucket") and not resources_of_type(template, "AWS::S3::BucketPolicy")
    assert not resources_of_type(template, "AWS::SQS::Queue")
    assert template["Parameters"]["BucketName"]["Default"] == "shared-landing-zone"
    assert template["Description"].startswith("Requires Amazon EventBridge notifications on for the existing bucket")
    readme = stack.files["job/README.md"]
    assert "> **Note:** Requires Amazon EventBridge notifications on for the existing bucket" in readme
    assert template["Outputs"]["BucketName"]["Value"] == {"Ref": "BucketName"}


def test_import_from_takes_the_foundation_stack_of_the_same_environment(tmp_path):
    text = manifest_text("job", "s3_object_task", 'container_name = "app"\nimport_from = "batch-base"',
                         'BucketName = "b-dev"\nSubnets = "subnet-0a1b2c3d"\nSecurityGroups = "sg-0123456789abcdef0"')
    text += '[stacks.job.environments.prod]\n[stacks.job.environments.prod.parameters]\nBucketName = "b-prod"\n' \
            'Subnets = "subnet-0a1b2c3d"\nSecurityGroups = "sg-0123456789abcdef0"\nFoundationStack = "shared-batch"\n'
    stack = render_text(tmp_path, text)["job"]
    template = stack.template
    assert "ClusterArn" not in template["Parameters"] and "FoundationStack" in template["Parameters"]
    target = target_of(template)
    assert target["Arn"] == {"Fn::ImportValue": {"Fn::Sub": "${FoundationStack}-ClusterArn"}}
    assert target["EcsParameters"]["TaskDefinitionArn"]["Fn::Sub"][1] == {"Family": {"Fn::ImportValue": {"Fn::Sub": "${FoundationStack}-TaskFamily"}}}
    spec = stack.spec
    assert spec.parameter_values("dev")["FoundationStack"] == "batch-base-dev"
    assert spec.parameter_values("prod")["FoundationStack"] == "shared-batch"  # stacks.toml wins


@pytest.mark.parametrize("options, field, words", [
    ('key_wildcard = "raw/**.csv"', "key_wildcard", "consecutive wildcard"),
    ('key_wildcard = "*"', "key_wildcard", "matches every key"),
    ('key_wildcard = "raw\\\\n*.csv"', "key_wildcard", "backslash must escape"),
    ('key_prefix = "in*/"', "key_prefix", "whether it encodes '*' (as %2A) or not is not documented"),
    ('key_suffix = "~backup"', "key_suffix", "whether it encodes '~' (as %7E) or not is not documented"),
    ('key_wildcard = "raw/\\\\**.csv"', "key_wildcard", "literal * (\\*)"),
    ('key_prefix = "/incoming/"', "key_prefix", "allowed: the key without the leading '/', e.g. 'incoming/'"),
    ('key_prefix = "s3://bucket/incoming/"', "key_prefix", "is a URL or ARN, not an object key"),
    ('key_wildcard = "arn:aws:s3:::bucket/*.csv"', "key_wildcard", "is a URL or ARN"),
    ('key_prefix = ""', "key_prefix", "empty filter"),
    ('key_suffix = ""', "key_suffix", "empty filter"),
    ('key_prefix = "a/"\nkey_wildcard = "a/*"', "key_wildcard", "either key_wildcard or key_prefix"),
    (f'key_prefix = "{"p" * 1000}"\nkey_suffix = "{"s" * 25}"', "key_suffix", "1025 bytes"),
    (f'key_wildcard = "{"w" * 1025}*"', "key_wildcard", "1024-byte limit"),
    ('bucket_encryption = "SSE-C"', "bucket_encryption", "'SSE-C' is not allowed; allowed: AES256, aws:kms"),
    ('existing_bucket = true\nbucket_versioning = true', "bucket_versioning", "only to a bucket the stack creates"),
    ('existing_bucket = "Not_A_Bucket"', "existing_bucket", "not an S3 bucket name"),
    ('key_env_var = "S3_BUCKET"', "key_env_var", "must differ"),
    ('key_env_var = "1KEY"', "key_env_var", "not a valid environment variable name"),
    ('environment = { OBJECT_KEY = "x" }', "key_env_var", "also in environment"),
])
def test_options_that_cannot_work_are_render_time_errors(tmp_path, options, field, words):
    with pytest.raises(UserError) as raised:
        render(tmp_path, f'container_name = "app"\n{options}')
    assert raised.value.stack == "job" and raised.value.field == f"options.{field}"
    assert words in raised.value.message


def test_static_text_with_a_placeholder_is_refused(tmp_path):
    with pytest.raises(UserError, match="<OBJECT_KEY>"):
        render(tmp_path, 'container_name = "app"\ncommand = ["echo", "<OBJECT_KEY>"]')


# --- key_prefix with key_suffix: one wildcard, plus the keys in which the two overlap ---------------

def key_pattern(prefix: str, suffix: str) -> dict:
    return s3_object_created_pattern("example-bucket", S3KeyFilter(key_prefix=prefix, key_suffix=suffix))


def key_matches(pattern: dict, key: str) -> bool:
    return pattern_matches(pattern, reference_event(bucket="example-bucket", key=key))


def test_a_suffix_overlapping_the_prefix_still_matches_the_key_that_is_both(tmp_path):
    template = render(tmp_path, 'container_name = "app"\nkey_prefix = "test/aaa/complete.txt"\nkey_suffix = ".txt"').template
    pattern = rule_pattern(template)
    # "<prefix>*<suffix>" needs 25 characters or more; the 21-character key that starts with the
    # prefix and ends with the suffix is an exact alternative in the same (OR'ed) array.
    assert pattern["detail"]["object"] == {"key": [{"wildcard": "test/aaa/complete.txt*.txt"}, "test/aaa/complete.txt"]}
    for key in ["test/aaa/complete.txt", "test/aaa/complete.txt.txt", "test/aaa/complete.txt/2024/06/a.txt"]:
        assert key_matches(pattern, key), key
    for key in ["test/aaa/complete.tx", "test/aaa/complete.txtx", "test/aaa/complete.txt.gz", "Test/aaa/complete.txt",
                "test/aaa/complete.TXT", "x/test/aaa/complete.txt", "test/aab/complete.txt"]:
        assert not key_matches(pattern, key), key
    # (its template lints clean: golden variant variant-s3-overlapping-filter)


def test_every_overlap_is_listed_in_its_encoded_form():
    pattern = key_pattern("x/a=a=", "a=a=.csv")
    assert pattern["detail"]["object"]["key"] == [{"wildcard": "x/a%3Da%3D*a%3Da%3D.csv"}, "x/a%3Da%3D.csv", "x/a%3Da%3Da%3D.csv"]
    for key in ["x/a=a=.csv", "x/a=a=a=.csv", "x/a=a=a=a=.csv", "x/a=a=/2024/a=a=.csv"]:
        assert key_matches(pattern, s3_encode(key)), key
    for key in ["x/a=a.csv", "x/aXaX.csv", "x/aXaXa=a=.csv", "x/a=a=a.csv", "x/a=a=.cs", "x/a=a=a=.csv.gz"]:
        assert not key_matches(pattern, s3_encode(key)), key


def test_prefix_and_suffix_without_overlap_stay_one_wildcard():
    pattern = key_pattern("raw/", ".csv")
    assert pattern["detail"]["object"]["key"] == [{"wildcard": "raw/*.csv"}]
    assert key_matches(pattern, "raw/.csv") and key_matches(pattern, "raw/2024/sales.csv")
    for key in ["raw.csv", "raw/.cs", "raw/sales.csv.gz", "Raw/sales.csv", "other/raw/sales.csv"]:
        assert not key_matches(pattern, key), key


@pytest.mark.parametrize("prefix, suffix", [("a=", "=a"), ("a\\", "\\a"), ("aa", "aa"), ("a", "a a"), ("a=a", "a"), (" a ", "a=")])
def test_prefix_and_suffix_match_exactly_the_keys_that_start_and_end_with_them(prefix, suffix):
    """Every key of up to 5 characters over an alphabet of characters S3 encodes (as S3 sends them)."""
    pattern = key_pattern(prefix, suffix)
    keys = [""] + ["".join(chars) for length in range(1, 6) for chars in itertools.product("a=\\ ", repeat=length)]
    wrong = [key for key in keys if key_matches(pattern, s3_encode(key)) != (key.startswith(prefix) and key.endswith(suffix))]
    assert wrong == []


def test_an_overlap_can_make_a_pair_that_is_too_long_together_fit_in_a_key():
    prefix, suffix = "x" * 1000 + "abcdefghijklmnopqrst", "abcdefghijklmnopqrst.csv"  # 1020 + 24 bytes
    pattern = key_pattern(prefix, suffix)
    # The wildcard would need 1044 bytes, more than any S3 key, so only the overlap is listed.
    assert pattern["detail"]["object"]["key"] == [prefix + ".csv"]
    assert len((prefix + ".csv").encode()) == 1024 and key_matches(pattern, prefix + ".csv")
    assert not key_matches(pattern, prefix + "x.csv")


def test_a_pair_that_overlaps_in_too_many_ways_would_outgrow_the_event_pattern_quota(tmp_path):
    with pytest.raises(UserError) as raised:
        render(tmp_path, f'container_name = "app"\nkey_prefix = "{"p" * 100}"\nkey_suffix = "{"p" * 100}"')
    assert (raised.value.stack, raised.value.field) == ("job", "options.key_suffix")
    assert "event pattern could be" in raised.value.message and "2048" in raised.value.message


# --- size limits: InputTemplate (EventBridge) and RunTask overrides (ECS), both 8192 characters ------

LONGEST_BUCKET = "b" * 63
WORST_KEY = "\x01" * 1024  # S3 allows control characters; each is 6 characters as JSON (\u0001)


def worst_case_overrides_length(template: dict) -> int:
    """The RunTask overrides for the longest bucket name and the key that takes the most JSON."""
    transformer = target_of(template)["InputTransformer"]
    text, _ = apply_input_transformer(transformer["InputPathsMap"], transformer["InputTemplate"],
                                      reference_event(bucket=LONGEST_BUCKET, key=WORST_KEY))
    json.loads(text)
    return len(text)


def command_option(length: int) -> str:
    return f'container_name = "app"\ncommand = ["{"x" * length}"]'


def test_overrides_that_fit_for_every_key_render_up_to_the_limit_and_one_more_character_is_refused(tmp_path):
    base = worst_case_overrides_length(render(tmp_path, command_option(1)).template)
    assert len(json.dumps(WORST_KEY)) == 6 * 1024 + 2
    longest = 1 + MAX_RUN_TASK_OVERRIDES - base
    template = render(tmp_path, command_option(longest)).template
    assert worst_case_overrides_length(template) == MAX_RUN_TASK_OVERRIDES
    with pytest.raises(UserError) as raised:
        render(tmp_path, command_option(longest + 1))
    assert (raised.value.stack, raised.value.field) == ("job", "options.command")
    assert raised.value.message.startswith(f"the RunTask overrides could be {MAX_RUN_TASK_OVERRIDES + 1} characters")
    assert "ECS RunTask allows at most 8192 (shorten command or environment by 1)" in raised.value.message
    assert "\n" not in str(raised.value)


def test_the_overrides_error_names_the_option_that_takes_the_room(tmp_path):
    with pytest.raises(UserError) as raised:
        render(tmp_path, f'container_name = "app"\ncommand = ["run"]\nenvironment = {{ BIG = "{"v" * 2500}" }}')
    assert raised.value.field == "options.environment" and "RunTask overrides" in raised.value.message


def test_an_input_template_over_8192_characters_is_refused(tmp_path):
    with pytest.raises(UserError) as raised:
        render(tmp_path, command_option(MAX_INPUT_TEMPLATE))
    assert (raised.value.stack, raised.value.field) == ("job", "options.command")
    assert "InputTemplate would be" in raised.value.message and "EventBridge allows at most 8192" in raised.value.message


def test_the_input_template_limit_applies_to_every_transformer_and_counts_utf16_units():
    frame = len(json.dumps({"input": ""}, separators=(",", ":")))
    text = json_input_transformer({"input": "x" * (MAX_INPUT_TEMPLATE - frame)}, {}).InputTemplate
    assert len(text) == MAX_INPUT_TEMPLATE
    with pytest.raises(UserError, match="InputTemplate would be 8193 characters"):
        json_input_transformer({"input": "x" * (MAX_INPUT_TEMPLATE - frame + 1)}, {})
    with pytest.raises(UserError, match="InputTemplate would be 8193 characters"):  # one emoji is two UTF-16 units
        json_input_transformer({"input": "x" * (MAX_INPUT_TEMPLATE - frame - 1) + "\U0001F600"}, {})
