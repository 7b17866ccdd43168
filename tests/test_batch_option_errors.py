"""Issue 15 options: every combination AWS forbids (and every mistake the options make easy) is one
line on stderr naming stack, field, value and what is allowed, exit 2, nothing written.

Each case edits one line of tests/golden/stacks.toml, whose variants use every new option."""

from __future__ import annotations

import shutil

import pytest

from support.paths import GOLDEN, snapshot

CASES = {
    # 1. capacity provider strategy
    "spot and a strategy": (
        ('spot = true\nspot_retry_attempts = 3', 'spot = true\ncapacity_provider_strategy = [{ provider = "FARGATE" }]\nspot_retry_attempts = 3'),
        "stack variant-sfn-spot-single: options.spot: spot = true is the strategy [{ provider = \"FARGATE_SPOT\" }]; use either it or capacity_provider_strategy"),
    "unknown provider": (
        ('{ provider = "FARGATE_SPOT", weight = 1 }]\nconcurrency', '{ provider = "FARGATE_SPOTT", weight = 1 }]\nconcurrency'),
        "stack variant-sfn-overlap-fail: options.capacity_provider_strategy[0].provider: 'FARGATE_SPOTT' is not a Fargate capacity provider (did you mean 'FARGATE_SPOT'?); allowed: FARGATE, FARGATE_SPOT"),
    "provider twice": (
        ('{ provider = "FARGATE", base = 1, weight = 1 }]\ncpu = 2048', '{ provider = "FARGATE_SPOT", base = 1, weight = 1 }]\ncpu = 2048'),
        "stack variant-s3-spot-mix: options.capacity_provider_strategy: FARGATE_SPOT is listed twice"),
    "two bases": (
        ('{ provider = "FARGATE_SPOT", weight = 3 }, { provider = "FARGATE", base = 1', '{ provider = "FARGATE_SPOT", weight = 3, base = 2 }, { provider = "FARGATE", base = 1'),
        "stack variant-s3-spot-mix: options.capacity_provider_strategy: only one capacity provider in a strategy may have a base"),
    "every weight 0": (
        ('{ provider = "FARGATE_SPOT", weight = 1 }]\nconcurrency', '{ provider = "FARGATE_SPOT", weight = 0 }]\nconcurrency'),
        "stack variant-sfn-overlap-fail: options.capacity_provider_strategy: every weight is 0, so no provider could place a task"),
    "weight over 1000": (
        ('{ provider = "FARGATE_SPOT", weight = 3 }', '{ provider = "FARGATE_SPOT", weight = 1001 }'),
        "stack variant-s3-spot-mix: options.capacity_provider_strategy[0].weight: 1001 is out of range; allowed: 0 to 1000"),
    "spot on an old platform version": (
        ('spot = true\nplatform_version = "1.4.0"', 'spot = true\nplatform_version = "1.2.0"'),
        "stack variant-rule-spot-size: options.platform_version: '1.2.0': Fargate Spot needs Fargate platform version 1.3.0 or later"),
    "strategy names a provider the foundation lacks": (
        ('capacity_providers = ["FARGATE", "FARGATE_SPOT"]', 'capacity_providers = ["FARGATE"]'),
        "stack variant-s3-spot-mix: options.capacity_provider_strategy: FARGATE_SPOT is not a capacity provider of variant-foundation-spot's cluster"),
    "spot on an ARM64 foundation": (
        ('family = "spot-job"', 'family = "spot-job"\ncpu_architecture = "ARM64"'),
        "stack variant-foundation-spot: options.capacity_providers: Fargate Spot runs X86_64 tasks only and this family is ARM64"),
    # 2. task_foundation
    "ephemeral storage too small": (
        ("ephemeral_storage_gib = 50", "ephemeral_storage_gib = 20"),
        "stack variant-foundation-spot: options.ephemeral_storage_gib: 20 is out of range; allowed: 21 to 200"),
    "stop timeout over Fargate's 120 s": (
        ("stop_timeout = 110", "stop_timeout = 121"),
        "stack variant-foundation-spot: options.stop_timeout: 121 is out of range; allowed: 2 to 120"),
    "unknown ulimit": (
        ('name = "nofile"', 'name = "nofiles"'),
        "stack variant-foundation-spot: options.ulimits[0].name: 'nofiles' is not a ulimit (did you mean 'nofile'?)"),
    "ulimit soft over hard": (
        ("soft = 4096, hard = 8192", "soft = 9000, hard = 8192"),
        "stack variant-foundation-spot: options.ulimits[0].soft: soft 9000 and hard 8192"),
    "foundation needs a newer platform than the job asks": (
        ('spot_retry_attempts = 3', 'spot_retry_attempts = 3\nplatform_version = "1.3.0"'),
        "stack variant-sfn-spot-single: options.platform_version: '1.3.0': variant-foundation-spot's task family (its ephemeral_storage_gib) needs Fargate platform version 1.4.0 or later"),
    # 3. per-job size
    "cpu without memory": (
        ("cpu = 2048\nmemory = 4096\npropagate_tags", "cpu = 2048\npropagate_tags"),
        "stack variant-s3-spot-mix: options.memory: give cpu and memory together"),
    "not a Fargate size": (
        ("cpu = 2048\nmemory = 4096\npropagate_tags", "cpu = 2048\nmemory = 2048\npropagate_tags"),
        "stack variant-s3-spot-mix: options.memory: cpu 2048 with memory 2048 is not a Fargate task size; with cpu 2048 memory (MiB) must be 4096 to 16384 in steps of 1024"),
    "8 vCPU on platform 1.3.0": (
        ('platform_version = "1.4.0"\ncpu = 8192', 'platform_version = "1.3.0"\ncpu = 8192'),
        "stack variant-rule-spot-size: options.platform_version: '1.3.0': cpu 8192 needs Fargate platform version 1.4.0 or later"),
    # 4. tags
    "propagate from the service": (
        ('propagate_tags = "TASK_DEFINITION"\nstack_tags_on_tasks = true\n\n[stacks.variant-scheduler-spot.overrides]',
         'propagate_tags = "SERVICE"\nstack_tags_on_tasks = true\n\n[stacks.variant-scheduler-spot.overrides]'),
        "stack variant-scheduler-spot: options.propagate_tags: 'SERVICE' is not allowed; allowed: TASK_DEFINITION"),
    "environments with different tag keys": (
        ('[stacks.variant-s3-spot-mix.environments.test]\nregion = "eu-west-1"\ntags = { team = "data", env = "test" }',
         '[stacks.variant-s3-spot-mix.environments.test]\nregion = "eu-west-1"\ntags = { team = "data", env = "test" }\n'
         '[stacks.variant-s3-spot-mix.environments.prod]\nregion = "eu-west-1"\ntags = { team = "data" }\n'
         '[stacks.variant-s3-spot-mix.environments.prod.parameters]\nSubnets = "subnet-0a1b2c3d"\nSecurityGroups = "sg-0123456789abcdef0"\n'
         'FoundationStack = "variant-foundation-spot-test"'),
        "stack variant-s3-spot-mix: environments.prod.tags: environments test (env, team) and prod (team) have different tag keys"),
    "a tag value a task cannot carry": (
        ('tags = { team = "reports", "cost-center" = "4711" }', 'tags = { team = "reports", "cost-center" = "47#11" }'),
        "stack variant-scheduler-spot: environments.test.tags.cost-center: value '47#11' is not allowed; allowed: a string of 0-256 "
        "ASCII letters, digits, spaces and _.:/=+-@"),
    "an aws: tag": (
        ('tags = { team = "reports", "cost-center" = "4711" }', 'tags = { team = "reports", "aws:cost-center" = "4711" }'),
        "stack variant-scheduler-spot: environments.test.tags: tag key 'aws:cost-center' is not allowed; allowed: 1-128 ASCII letters, "
        "digits, spaces and _.:/=+-@, not starting with aws:"),
    "stack tags without tags": (
        ('enable_ecs_managed_tags = true\n\n[stacks.variant-rule-spot-size.overrides]', 'stack_tags_on_tasks = true\n\n[stacks.variant-rule-spot-size.overrides]'),
        "stack variant-rule-spot-size: options.stack_tags_on_tasks: no environment of the stack has tags to put on its tasks"),
    # 5. concurrency
    "concurrency on an EventBridge-started job": (
        ('spot = true\nplatform_version = "1.4.0"', 'spot = true\nconcurrency = 1\nplatform_version = "1.4.0"'),
        "stack variant-rule-spot-size: options.concurrency: scheduled_task starts the task from EventBridge, which cannot see a run still in progress; use blueprint sfn_task"),
    "concurrency on an S3 job": (
        ("stack_tags_on_tasks = true\n\n[stacks.variant-s3-spot-mix.environments.test]", "stack_tags_on_tasks = true\nconcurrency = 1\n\n[stacks.variant-s3-spot-mix.environments.test]"),
        "stack variant-s3-spot-mix: options.concurrency: s3_object_task starts the task from EventBridge, which cannot see a run still in progress; use blueprint sfn_task"),
    "concurrency 2": (
        ("concurrency = 1\ncpu = 2048", "concurrency = 2\ncpu = 2048"),
        "stack variant-sfn-spot-single: options.concurrency: 2 is not allowed; allowed: 1"),
    "concurrency with an s3 trigger": (
        ('s3 = { key_prefix = "incoming/"', 'concurrency = 1\ns3 = { key_prefix = "incoming/"'),
        "stack variant-sfn-s3-nowait: options.concurrency: with an s3 trigger a skipped run would be an object never processed"),
    "on_overlap without concurrency": (
        ('concurrency = 1\non_overlap = "fail"', 'on_overlap = "fail"'),
        "stack variant-sfn-overlap-fail: options.on_overlap: applies only with concurrency = 1"),
    "unknown on_overlap": (
        ('on_overlap = "fail"', 'on_overlap = "queue"'),
        "stack variant-sfn-overlap-fail: options.on_overlap: 'queue' is not allowed; allowed: skip, fail"),
    "spot re-runs without waiting": (
        ('concurrency = 1\non_overlap = "fail"', 'wait = false\nspot_retry_attempts = 2'),
        "stack variant-sfn-overlap-fail: options.spot_retry_attempts: applies only when the task may run on Fargate Spot"),
    "concurrency without waiting": (
        ('concurrency = 1\non_overlap = "fail"', 'wait = false\nconcurrency = 1\non_overlap = "fail"'),
        "stack variant-sfn-overlap-fail: options.concurrency: concurrency = 1 needs wait = true: without waiting, an execution "
        "ends as soon as its task starts"),
    # 6. hand overrides
    "override path to nothing": (
        ('"Resources/Schedule/Properties/State" = "DISABLED"', '"Resources/Schedul/Properties/State" = "DISABLED"'),
        "stack variant-scheduler-spot: overrides.Resources/Schedul/Properties/State: 'Resources/Schedul/Properties/State' points at nothing: Resources has no 'Schedul' (did you mean 'Schedule'?)"),
    "override deletes nothing": (
        ('"Resources/ScheduleRule/Properties/Description" = { delete = true }', '"Resources/ScheduleRule/Properties/Descriptio" = { delete = true }'),
        "stack variant-rule-spot-size: overrides.Resources/ScheduleRule/Properties/Descriptio: 'Resources/ScheduleRule/Properties/Descriptio' points at nothing: Resources/ScheduleRule/Properties has no 'Descriptio' (did you mean 'Description'?)"),
    "override list index out of range": (
        ('"Resources/ScheduleRule/Properties/Targets/0/EcsParameters/Group"', '"Resources/ScheduleRule/Properties/Targets/1/EcsParameters/Group"'),
        "stack variant-rule-spot-size: overrides.Resources/ScheduleRule/Properties/Targets/1/EcsParameters/Group: 'Resources/ScheduleRule/Properties/Targets/1/EcsParameters/Group' points at nothing: Resources/ScheduleRule/Properties/Targets is a list of 1 item(s)"),
    "override of a whole section": (
        ('"Resources/Schedule/Properties/State" = "DISABLED"', '"Resources" = "DISABLED"'),
        "stack variant-scheduler-spot: overrides.Resources: 'Resources' names a whole template section"),
    "override of an unknown section": (
        ('"Resources/Schedule/Properties/State" = "DISABLED"', '"Resource/Schedule/Properties/State" = "DISABLED"'),
        "stack variant-scheduler-spot: overrides.Resource/Schedule/Properties/State: 'Resource' is not a template section (did you mean 'Resources'?)"),
    "override delete with false": (
        ('"Resources/ScheduleRule/Properties/Description" = { delete = true }', '"Resources/ScheduleRule/Properties/Description" = { delete = false }'),
        "stack variant-rule-spot-size: overrides.Resources/ScheduleRule/Properties/Description: {'delete': False}: to delete, write { delete = true } alone"),
    "override with a TOML date": (
        ('"Resources/Schedule/Properties/State" = "DISABLED"', '"Resources/Schedule/Properties/State" = 2026-01-01'),
        "stack variant-scheduler-spot: overrides.Resources/Schedule/Properties/State: datetime.date(2026, 1, 1) is a TOML date"),
    "override that makes the template invalid for its parameters": (
        ('"Resources/Schedule/Properties/State" = "DISABLED"', '"Parameters/TaskFamily" = { delete = true }'),
        "stack variant-scheduler-spot: environments.test.parameters.TaskFamily: unknown parameter 'TaskFamily'"),
}


@pytest.fixture
def golden_copy(tmp_path):
    shutil.copy(GOLDEN / "stacks.toml", tmp_path / "stacks.toml")
    return tmp_path


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_option_is_one_line_exit_2_and_writes_nothing(golden_copy, run_cli, case):
    (old, new), expected = CASES[case]
    manifest = golden_copy / "stacks.toml"
    text = manifest.read_text()
    assert text.count(old) == 1, "test case does not apply to tests/golden/stacks.toml"
    manifest.write_text(text.replace(old, new))
    before = snapshot(golden_copy)
    result = run_cli("render", cwd=golden_copy)
    assert result.code == 2, result.out
    assert result.err.startswith(f"error: {expected}"), result.err
    assert result.err.count("\n") == 1 and "Traceback" not in result.err
    assert snapshot(golden_copy) == before


def test_the_golden_manifest_itself_renders(golden_copy, run_cli):
    """The cases above fail because of their one edit, not because the base does not render."""
    result = run_cli("render", cwd=golden_copy)
    assert result.code == 0, result.err
