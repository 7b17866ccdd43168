"""Every example stack deploys in every environment, each with exactly its own overrides.

One test per `[<stack>-<env>.deploy.parameters]` section the generator owns in the repository's
committed samconfig.toml (read when the tests are collected, so a new example stack or
environment gets its test without anyone writing one). Each test deploys the template of the
`rendered_examples` scratch render, with that section's stack name, capabilities and
parameter_overrides split the way sam splits them (`samconfig_overrides`), to a moto server, and
reads back what tells the environments apart: the parameters as moto reports them, every
EventBridge rule and target (the ECS target's cluster ARN and task family), the failure-alert
rule's pattern and SNS target, the topic's KMS key, the bucket, the task definition's image, the
state machine's definition, the function's environment, the IAM scopes and the exports.

How a template is made deployable is shared with the other deploy tests: SAM templates are
translated with aws-sam-translator (`sam_translate`; a state machine's DefinitionUri inlined and
its substitutions written for moto as in test_deploy_sfn_task.py, a function's CodeUri zipped and
uploaded as in test_deploy_ecr_redeploy.py), templates are sent as JSON (moto's YAML loader does
not read `!ImportValue {Fn::Sub: …}`), and outputs that read a resource moto does not model
(`AWS::Scheduler::Schedule`, `…::ScheduleGroup`) are left out (`without_unmodelled_outputs`).

A stack whose FoundationStack parameter names another example stack is deployed after that stack
(deployed on demand, once), which must belong to the same environment.

The stacks go to a moto server of this module's own, in its own process, under their samconfig
names: so FoundationStack imports exactly what sam deploy would import, and bucket names (which
moto keeps global across accounts and servers of one process) do not collide with the other
deploy tests' stacks on the session's shared server.

What moto 5.2.5 cannot show (see also the other deploy tests): AWS::Scheduler::Schedule and
ScheduleGroup (not created: the schedule's target is checked as the template resolves it for the
environment, its role and queue are read back), AWS::CloudWatch::Alarm, AWS::SNS::TopicPolicy,
AWS::SQS::QueuePolicy, AWS::S3::BucketPolicy and AWS::Lambda::EventInvokeConfig (not created),
a rule target's NetworkConfiguration (read back empty), KMS DescribeKey on a key created through
CloudFormation (moto keeps its policy as a dict and fails; the key policy and rotation are read
instead), and tags (`create_stack` passes none; test_sam_cli.py covers them).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from generator.core.samconfig import generated_sections
from support.moto_deploy import (client, create_stack, for_moto, inline_policy, moto_server_process, physical_ids, reported_parameters,
                                 sam_translate, samconfig_overrides, translate_with_definition, upload_code,
                                 without_unmodelled_outputs, yaml_load)
from support.paths import REPO, free_port

pytestmark = [pytest.mark.deploy, pytest.mark.slow]

COMMITTED_SAMCONFIG = REPO / "samconfig.toml"
ALERT_DETAIL_TYPE = "ECS Task State Change"
# Types moto 5.2.5's CloudFormation creates (and the checks below read back): each such resource of
# a template must have a physical id after the deploy.
CREATED_BY_MOTO = frozenset({
    "AWS::Events::Rule", "AWS::SNS::Topic", "AWS::KMS::Key", "AWS::IAM::Role", "AWS::SQS::Queue", "AWS::S3::Bucket",
    "AWS::ECS::Cluster", "AWS::ECS::TaskDefinition", "AWS::Logs::LogGroup", "AWS::StepFunctions::StateMachine",
    "AWS::Lambda::Function",
})


def _committed_config_envs() -> list[str]:
    """The generator's sections of the committed samconfig.toml; stacks that import from another
    stack after the others (they also deploy their foundation themselves when run alone)."""
    config_envs = list(generated_sections(COMMITTED_SAMCONFIG.read_text(), path=str(COMMITTED_SAMCONFIG)))
    return sorted(config_envs, key=lambda config_env: "FoundationStack" in samconfig_overrides(COMMITTED_SAMCONFIG, config_env)[1])


CONFIG_ENVS = _committed_config_envs()


# --- deployment -------------------------------------------------------------------------------------


@dataclass
class Deployed:
    config_env: str
    environment: str
    section: dict
    overrides: dict[str, str]
    template: dict            # what was sent to CloudFormation (translated, outputs moto cannot read left out)
    dropped_outputs: list[str]
    stack: dict               # describe_stacks of the created stack
    ids: dict[str, str]       # logical id → physical id
    endpoint: str
    account: str
    foundation: "Deployed | None"

    @property
    def region(self) -> str:
        return self.section["region"]

    @property
    def stack_name(self) -> str:
        return self.section["stack_name"]

    def client(self, service: str):
        return client(service, self.endpoint, self.region)

    def of_type(self, kind: str) -> dict[str, dict]:
        """Resources of the deployed template of this type that moto created (logical id → resource)."""
        return {name: resource for name, resource in self.template["Resources"].items()
                if resource["Type"] == kind and self.ids.get(name)}


def stack_and_environment(config_env: str, section: dict) -> tuple[str, str]:
    """`<stack>-<env>` split at the stack's name (its folder under the output directory)."""
    stack = Path(section["template_file"]).parent.name
    assert config_env.startswith(stack + "-"), (config_env, section["template_file"])
    return stack, config_env[len(stack) + 1:]


def deployable_template(template_path: Path, overrides: dict[str, str], region: str, endpoint: str, stack_name: str) -> dict:
    """The template as CloudFormation would create it: SAM translated the way `sam deploy` and the
    transform would, with the helpers the other deploy tests use."""
    template = yaml_load(template_path.read_text())
    if "Transform" not in template:
        return template
    kinds = {resource["Type"] for resource in template["Resources"].values()}
    if "AWS::Serverless::StateMachine" in kinds:  # (test_deploy_sfn_task's helpers expect it as `StateMachine`)
        assert kinds.isdisjoint({"AWS::Serverless::Function"}), "a state machine and a function in one template: extend this"
        return for_moto(translate_with_definition(template_path, overrides, region))
    for name, resource in template["Resources"].items():
        code_uri = resource["Properties"].get("CodeUri") if resource["Type"] == "AWS::Serverless::Function" else None
        if isinstance(code_uri, str) and not code_uri.startswith("s3://"):
            resource["Properties"]["CodeUri"] = upload_code(endpoint, region, template_path.parent / code_uri, f"{stack_name}/{name}.zip")
    return sam_translate(template, region, overrides)


@pytest.fixture(scope="module")
def moto_for_every_env():
    """This module's own moto server (see the module's docstring), with the fake credentials boto3 needs."""
    patch = pytest.MonkeyPatch()
    patch.setenv("AWS_ACCESS_KEY_ID", "testing")
    patch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    patch.delenv("AWS_SESSION_TOKEN", raising=False)
    try:
        with moto_server_process(free_port()) as endpoint:
            yield endpoint
    finally:
        patch.undo()


@pytest.fixture(scope="module")
def deployed(rendered_examples, moto_for_every_env):
    """config_env → Deployed: created once, its FoundationStack's stack first."""
    samconfig = rendered_examples / "samconfig.toml"
    sections = generated_sections(samconfig.read_text(), path=str(samconfig))
    by_stack_name = {section["stack_name"]: config_env for config_env, section in sections.items()}
    endpoint = moto_for_every_env
    account = client("sts", endpoint, "us-east-1").get_caller_identity()["Account"]
    done: dict[str, Deployed] = {}

    def deploy(config_env: str) -> Deployed:
        if config_env in done:
            return done[config_env]
        assert config_env in sections, f"{config_env} is in the committed samconfig.toml but not rendered from stacks.toml"
        section, overrides = samconfig_overrides(samconfig, config_env)
        _, environment = stack_and_environment(config_env, section)
        foundation = None
        if "FoundationStack" in overrides:
            assert overrides["FoundationStack"] in by_stack_name, \
                f"{config_env}: FoundationStack={overrides['FoundationStack']} is no stack of the samconfig"
            foundation = deploy(by_stack_name[overrides["FoundationStack"]])
            assert foundation.environment == environment, \
                f"{config_env} imports from {foundation.config_env}, a stack of another environment"
        template_path = rendered_examples / section["template_file"]
        template, dropped = without_unmodelled_outputs(
            deployable_template(template_path, overrides, section["region"], endpoint, section["stack_name"]))
        stack = create_stack(endpoint, section["region"], section["stack_name"], json.dumps(template), overrides,
                             section["capabilities"].split())
        assert stack["StackStatus"] == "CREATE_COMPLETE", f"{config_env}: {stack.get('StackStatusReason')}"
        done[config_env] = Deployed(config_env, environment, section, overrides, template, dropped, stack,
                                    physical_ids(endpoint, section["region"], section["stack_name"]), endpoint, account, foundation)
        return done[config_env]

    return deploy


# --- the template's values for this stack ---------------------------------------------------------

NO_VALUE = object()


class Resolve:
    """A template value with this stack's parameters, pseudo parameters, physical ids and imports
    filled in (Ref, Fn::Sub, Fn::GetAtt, Fn::ImportValue, Fn::Join, Fn::Select, Fn::Split, Fn::If): what CloudFormation
    should have created, to compare with what moto reports."""

    def __init__(self, stack: Deployed, exports: dict[str, str]):
        self.stack = stack
        self.exports = exports
        template = stack.template
        self.parameters = {}
        for name, definition in template.get("Parameters", {}).items():
            value = stack.overrides.get(name, definition.get("Default"))
            if definition["Type"].startswith("List<") or definition["Type"] == "CommaDelimitedList":
                value = value.split(",")
            self.parameters[name] = value
        self.pseudo = {"AWS::Region": stack.region, "AWS::AccountId": stack.account, "AWS::Partition": "aws",
                       "AWS::StackName": stack.stack_name, "AWS::URLSuffix": "amazonaws.com"}

    def __call__(self, value):
        if isinstance(value, list):
            return [item for item in map(self, value) if item is not NO_VALUE]
        if isinstance(value, dict):
            if len(value) == 1:
                ((key, argument),) = value.items()
                if key == "Ref":
                    return self.ref(argument)
                if key == "Fn::Sub":
                    return self.sub(argument)
                if key == "Fn::GetAtt":
                    return self.get_att(*(argument.split(".", 1) if isinstance(argument, str) else argument))
                if key == "Fn::ImportValue":
                    return self.exports[self(argument)]
                if key == "Fn::Join":
                    separator, items = argument
                    return separator.join(self(items))
                if key == "Fn::Select":
                    index, items = self(argument)
                    return items[int(index)]
                if key == "Fn::Split":
                    separator, text = self(argument)
                    return text.split(separator)
                if key == "Fn::If":
                    condition, if_true, if_false = argument
                    return self(if_true if self.condition(condition) else if_false)
                assert not key.startswith("Fn::"), f"resolving {key} is not implemented"
            resolved = ((key, self(item)) for key, item in value.items())
            return {key: item for key, item in resolved if item is not NO_VALUE}
        return value

    def ref(self, name: str):
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        return self.stack.ids[name]

    def sub(self, argument) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else (argument[0], self(argument[1]))

        def value(match: re.Match) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return variables[name]
            return self.get_att(*name.split(".", 1)) if "." in name else self.ref(name)

        return re.sub(r"\$\{([^}]+)\}", value, text)

    def get_att(self, logical_id: str, attribute: str) -> str:
        kind = self.stack.template["Resources"][logical_id]["Type"]
        physical = self.stack.ids[logical_id]
        region, account = self.stack.region, self.stack.account
        arns = {
            ("AWS::IAM::Role", "Arn"): lambda: f"arn:aws:iam::{account}:role/{physical}",
            ("AWS::SQS::Queue", "Arn"): lambda: f"arn:aws:sqs:{region}:{account}:{physical.rsplit('/', 1)[-1]}",
            ("AWS::SQS::Queue", "QueueName"): lambda: physical.rsplit("/", 1)[-1],
            ("AWS::Lambda::Function", "Arn"): lambda: f"arn:aws:lambda:{region}:{account}:function:{physical}",
            ("AWS::Events::Rule", "Arn"): lambda: f"arn:aws:events:{region}:{account}:rule/{physical}",
            ("AWS::ECS::Cluster", "Arn"): lambda: f"arn:aws:ecs:{region}:{account}:cluster/{physical}",
            # CloudFormation's ends in ":*"; moto 5.2.5's does not
            ("AWS::Logs::LogGroup", "Arn"): lambda: f"arn:aws:logs:{region}:{account}:log-group:{physical}",
            ("AWS::SNS::Topic", "TopicArn"): lambda: physical,
            ("AWS::StepFunctions::StateMachine", "Arn"): lambda: physical,
            ("AWS::KMS::Key", "Arn"): lambda: f"arn:aws:kms:{region}:{account}:key/{physical}",
        }
        assert (kind, attribute) in arns, f"resolving {kind}.{attribute} is not implemented"
        return arns[kind, attribute]()

    def condition(self, name: str) -> bool:
        return self.truth(self.stack.template["Conditions"][name])

    def truth(self, expression: dict) -> bool:
        ((key, argument),) = expression.items()
        if key == "Condition":
            return self.condition(argument)
        if key == "Fn::Not":
            return not self.truth(argument[0])
        if key == "Fn::And":
            return all(map(self.truth, argument))
        if key == "Fn::Or":
            return any(map(self.truth, argument))
        assert key == "Fn::Equals", key
        left, right = self(argument)
        return left == right


def exports_of(stack: Deployed) -> dict[str, str]:
    return {e["Name"]: e["Value"] for e in stack.client("cloudformation").list_exports()["Exports"]}


def task_in(stack: Deployed, exports: dict[str, str]) -> tuple[str, str] | None:
    """(cluster ARN, task family) the stack runs its task as, from its overrides or the exports of
    the FoundationStack they name; None for a stack that runs no task."""
    if "ClusterArn" in stack.overrides:
        return stack.overrides["ClusterArn"], stack.overrides["TaskFamily"]
    if "FoundationStack" in stack.overrides:
        foundation = stack.overrides["FoundationStack"]
        return exports[f"{foundation}-ClusterArn"], exports[f"{foundation}-TaskFamily"]
    return None


def rule_name(physical_id: str) -> str:
    return physical_id.split("/")[-1].split("|")[0]


# --- the tests ----------------------------------------------------------------------------------------


def test_the_committed_samconfig_lists_every_rendered_config_env(rendered_examples):
    """The tests below are collected from the committed samconfig.toml; a stack or environment
    rendered from stacks.toml but missing there would go untested."""
    rendered = rendered_examples / "samconfig.toml"
    assert set(generated_sections(rendered.read_text(), path=str(rendered))) == set(CONFIG_ENVS)
    assert CONFIG_ENVS


@pytest.mark.parametrize("config_env", CONFIG_ENVS)
def test_stack_deploys_with_its_environment_overrides(deployed, config_env):
    stack = deployed(config_env)
    assert stack.stack["StackStatus"] == "CREATE_COMPLETE"
    exports = exports_of(stack)
    resolve = Resolve(stack, exports)

    # Parameters: exactly this section's overrides; the others are the template's defaults.
    parameters = stack.template.get("Parameters", {})
    assert set(stack.overrides) <= set(parameters)
    assert not [name for name, definition in parameters.items() if "Default" not in definition and name not in stack.overrides]
    reported = reported_parameters(stack.endpoint, stack.region, stack.stack_name, stack.template)
    assert reported == {name: stack.overrides.get(name, definition.get("Default")) for name, definition in parameters.items()}

    # Outputs and exports, as the template computes them for this stack.
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.stack.get("Outputs", [])}
    assert outputs == {name: resolve(output["Value"]) for name, output in stack.template.get("Outputs", {}).items()}
    for name, output in stack.template.get("Outputs", {}).items():
        if "Export" in output:
            assert exports[resolve(output["Export"]["Name"])] == outputs[name]

    # Everything of a type moto models was created (resources whose Condition is false excepted).
    created = {name for name, resource in stack.template["Resources"].items()
               if resource["Type"] in CREATED_BY_MOTO and ("Condition" not in resource or resolve.condition(resource["Condition"]))}
    assert not [name for name in created if not stack.ids.get(name)]

    task = task_in(stack, exports)
    if stack.foundation is not None:
        # the foundation of the same environment, deployed from its own section
        assert stack.overrides["FoundationStack"] == stack.foundation.stack_name
        assert task[1] == stack.foundation.stack_name  # its family is its stack's name
        foundation_cluster = stack.foundation.ids["Cluster"]
        assert task[0] == f"arn:aws:ecs:{stack.region}:{stack.account}:cluster/{foundation_cluster}"

    # Each check returns how many times it read this environment's cluster back from what moto created.
    cluster_read_back = check_rules(stack, resolve, task) + check_roles(stack, resolve, task) + \
        check_state_machines(stack, resolve, task)
    if task is not None:
        assert cluster_read_back, "a stack that runs a task shows the environment's cluster somewhere moto created"
    check_alert_topics(stack, resolve)
    check_buckets(stack, resolve)
    check_task_definitions(stack, resolve)
    check_functions(stack, resolve)
    check_queues(stack)
    check_schedules(stack, task)


def check_rules(stack: Deployed, resolve: Resolve, task) -> int:
    """Every rule as the template makes it for this stack, its targets included, and in particular
    the ECS targets' cluster and family and the alert rule's cluster, family and topic."""
    events = stack.client("events")
    clusters = 0
    for logical_id, resource in stack.of_type("AWS::Events::Rule").items():
        expected = resolve(resource["Properties"])
        rule = events.describe_rule(Name=rule_name(stack.ids[logical_id]))
        assert rule["State"] == expected.get("State", "ENABLED")
        assert rule.get("ScheduleExpression") == expected.get("ScheduleExpression")
        pattern = json.loads(rule["EventPattern"]) if "EventPattern" in rule else None
        assert pattern == expected.get("EventPattern")

        targets = {t["Id"]: t for t in events.list_targets_by_rule(Rule=rule["Name"])["Targets"]}
        assert set(targets) == {t["Id"] for t in expected["Targets"]}
        for wanted in expected["Targets"]:
            target = targets[wanted["Id"]]
            ecs = wanted.pop("EcsParameters", None)
            assert {key: target.get(key) for key in wanted} == wanted
            if ecs is not None:
                # moto 5.2.5 reads a rule target's NetworkConfiguration back empty
                ecs.pop("NetworkConfiguration", None)
                assert {key: target["EcsParameters"].get(key) for key in ecs} == ecs
                cluster, family = task
                assert target["Arn"] == cluster
                clusters += 1
                assert target["EcsParameters"]["TaskDefinitionArn"] == \
                    f"arn:aws:ecs:{stack.region}:{stack.account}:task-definition/{family}"  # the family, no revision

        if pattern and pattern.get("detail-type") == [ALERT_DETAIL_TYPE]:
            cluster, family = task
            assert pattern["source"] == ["aws.ecs"]
            assert pattern["detail"]["clusterArn"] == [cluster]
            clusters += 1
            assert pattern["detail"]["group"] == [f"family:{family}"]
            assert pattern["detail"]["lastStatus"] == ["STOPPED"]
            (target,) = targets.values()
            if pattern["detail"].get("containers", {}).get("exitCode") == [0]:
                # the missed-run alarm's success rule writes to the stack's own log group
                (group,) = [stack.ids[name] for name in stack.of_type("AWS::Logs::LogGroup") if name == "SuccessfulRunsLogGroup"]
                assert target["Arn"] == f"arn:aws:logs:{stack.region}:{stack.account}:log-group:{group}"
                continue
            topics = stack.of_type("AWS::SNS::Topic")
            if topics:  # the stack's own topic (alerts = "topic"), else the AlertTopicArn parameter's
                assert target["Arn"] in {stack.ids[name] for name in topics}
            else:
                assert target["Arn"] == stack.overrides["AlertTopicArn"]
            assert set(target["InputTransformer"]["InputPathsMap"]) >= {"group", "task", "reason", "containers"}

    if stack.of_type("AWS::SNS::Topic"):
        # a stack with an alert topic hears its failures: a task's, or (a state machine that waits
        # for its task) the execution's outcome, or (ecr_redeploy) the rollout's
        detail_types = {t for resource in stack.of_type("AWS::Events::Rule").values()
                        for t in resource["Properties"].get("EventPattern", {}).get("detail-type", [])}
        if task is not None:
            assert detail_types & {ALERT_DETAIL_TYPE, "Step Functions Execution Status Change"}, "a stack that runs a task has an alert rule"
    return clusters


def check_alert_topics(stack: Deployed, resolve: Resolve) -> None:
    """Each (alert) topic is encrypted with a customer managed key of its own stack: EventBridge and
    CloudWatch cannot publish to a topic under the AWS managed SNS key."""
    sns, kms = stack.client("sns"), stack.client("kms")
    for logical_id, resource in stack.of_type("AWS::SNS::Topic").items():
        attributes = sns.get_topic_attributes(TopicArn=stack.ids[logical_id])["Attributes"]
        assert "KmsMasterKeyId" in resource["Properties"], f"{logical_id} is not encrypted with the stack's key"
        assert attributes["KmsMasterKeyId"] == resolve(resource["Properties"]["KmsMasterKeyId"])
        (key_logical_id,) = [name for name in stack.of_type("AWS::KMS::Key") if stack.ids[name] == attributes["KmsMasterKeyId"]]
        key = stack.template["Resources"][key_logical_id]["Properties"]
        # moto 5.2.5 fails DescribeKey on a key created through CloudFormation; its policy and
        # rotation read back (the policy as a JSON object rather than a string)
        policy = kms.get_key_policy(KeyId=attributes["KmsMasterKeyId"], PolicyName="default")["Policy"]
        assert (json.loads(policy) if isinstance(policy, str) else policy) == resolve(key["KeyPolicy"])
        assert kms.get_key_rotation_status(KeyId=attributes["KmsMasterKeyId"])["KeyRotationEnabled"] == key.get("EnableKeyRotation", False)


def check_roles(stack: Deployed, resolve: Resolve, task) -> int:
    """Each role's inline policy as rendered for this stack; RunTask scoped to this environment's
    cluster and family."""
    clusters = 0
    for logical_id, resource in stack.of_type("AWS::IAM::Role").items():
        policies = resource["Properties"].get("Policies", [])
        if len(policies) != 1:
            continue  # inline_policy reads a role's one policy
        document = inline_policy(stack.endpoint, stack.region, stack.ids[logical_id])
        # moto keeps an Fn::If that chose AWS::NoValue in a list as None
        for statement in document["Statement"]:
            if isinstance(statement.get("Resource"), list):
                statement["Resource"] = [item for item in statement["Resource"] if item is not None]
        assert document == resolve(policies[0]["PolicyDocument"])
        for statement in document["Statement"]:
            if "ecs:RunTask" in statement["Action"]:
                cluster, family = task
                assert statement["Condition"] == {"ArnEquals": {"ecs:cluster": cluster}}
                clusters += 1
                assert statement["Resource"] == [f"arn:aws:ecs:{stack.region}:{stack.account}:task-definition/{family}",
                                                 f"arn:aws:ecs:{stack.region}:{stack.account}:task-definition/{family}:*"]
    return clusters


def check_buckets(stack: Deployed, resolve: Resolve) -> None:
    s3 = stack.client("s3")
    for logical_id, resource in stack.of_type("AWS::S3::Bucket").items():
        properties = resolve(resource["Properties"])
        if "BucketName" in properties:
            assert stack.ids[logical_id] == properties["BucketName"]
        if "BucketEncryption" in properties:
            rules = s3.get_bucket_encryption(Bucket=stack.ids[logical_id])["ServerSideEncryptionConfiguration"]["Rules"]
            assert [rule["ApplyServerSideEncryptionByDefault"] for rule in rules] == \
                [rule["ServerSideEncryptionByDefault"] for rule in properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]]


def check_task_definitions(stack: Deployed, resolve: Resolve) -> None:
    ecs = stack.client("ecs")
    for logical_id, resource in stack.of_type("AWS::ECS::TaskDefinition").items():
        properties = resolve(resource["Properties"])
        definition = ecs.describe_task_definition(taskDefinition=stack.ids[logical_id])["taskDefinition"]
        assert definition["family"] == properties["Family"]
        # moto keeps family, container definitions, volumes and memory of a task definition
        assert {c["name"]: c["image"] for c in definition["containerDefinitions"]} == \
            {c["Name"]: c["Image"] for c in properties["ContainerDefinitions"]}
        assert definition["memory"] == properties["Memory"]
        if "ImageTag" in stack.overrides:
            assert all(c["image"].endswith(":" + stack.overrides["ImageTag"]) for c in definition["containerDefinitions"])


def check_state_machines(stack: Deployed, resolve: Resolve, task) -> int:
    sfn = stack.client("stepfunctions")
    clusters = 0
    for logical_id, resource in stack.of_type("AWS::StepFunctions::StateMachine").items():
        properties = resolve(resource["Properties"])
        machine = sfn.describe_state_machine(stateMachineArn=stack.ids[logical_id])
        assert machine["name"] == properties["StateMachineName"]
        assert machine["roleArn"] == properties["RoleArn"]
        definition = json.loads(machine["definition"])
        assert definition == json.loads(properties["DefinitionString"])
        runs = [state for state in definition["States"].values() if state.get("Resource", "").startswith("arn:aws:states:::ecs:runTask")]
        for state in runs:
            cluster, family = task
            assert state["Parameters"]["Cluster"] == cluster
            clusters += 1
            assert state["Parameters"]["TaskDefinition"] == f"arn:aws:ecs:{stack.region}:{stack.account}:task-definition/{family}"
    return clusters


def check_functions(stack: Deployed, resolve: Resolve) -> None:
    functions = stack.client("lambda")
    for logical_id, resource in stack.of_type("AWS::Lambda::Function").items():
        properties = resolve(resource["Properties"])
        configuration = functions.get_function_configuration(FunctionName=stack.ids[logical_id])
        assert configuration["Role"] == properties["Role"]
        assert configuration.get("Environment", {}).get("Variables", {}) == properties.get("Environment", {}).get("Variables", {})


def check_queues(stack: Deployed) -> None:
    sqs = stack.client("sqs")
    for logical_id, resource in stack.of_type("AWS::SQS::Queue").items():
        attributes = sqs.get_queue_attributes(QueueUrl=stack.ids[logical_id], AttributeNames=["All"])["Attributes"]
        if resource["Properties"].get("SqsManagedSseEnabled"):
            assert attributes["SqsManagedSseEnabled"] == "true"


def check_schedules(stack: Deployed, task) -> None:
    """moto does not create an AWS::Scheduler::Schedule: what can be read back is the role it
    would use (checked in check_roles) and that only the outputs reading it were left out."""
    schedules = {name for name, resource in stack.template["Resources"].items() if resource["Type"] == "AWS::Scheduler::Schedule"}
    if not schedules:
        assert not stack.dropped_outputs
        return
    assert stack.dropped_outputs  # (at least the schedule's ARN)
    resolve = Resolve(stack, exports_of(stack))
    for name in schedules:
        # The schedule as CloudFormation would create it with this environment's values, from
        # resources moto did create (its role and dead-letter queue).
        target = resolve(stack.template["Resources"][name]["Properties"]["Target"])
        cluster, family = task
        assert target["Arn"] == cluster
        assert target["EcsParameters"]["TaskDefinitionArn"] == f"arn:aws:ecs:{stack.region}:{stack.account}:task-definition/{family}"
        assert target["EcsParameters"]["NetworkConfiguration"]["AwsvpcConfiguration"]["Subnets"] == stack.overrides["Subnets"].split(",")
