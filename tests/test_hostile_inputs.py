"""Hostile manifests and samconfig files: every input gets a render (exit 0, the user's samconfig
content kept byte for byte) or exactly one stderr line with exit 2 that names where the problem is,
and then no file has changed. The classes: bytes and TOML syntax, shapes, strings (ASCII, full
match), Regions/accounts/partitions, tags, schedules, time zones, cross-stack names, samconfig."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest

from generator.commands.cli import main

BASE = '''[stacks.job]
blueprint = "scheduled_task"
description = "Nightly sales report"

[stacks.job.options]
schedule = "cron(0 2 * * ? *)"
timezone = "Asia/Tokyo"
container_name = "app"
command = ["python", "report.py"]
environment = { REPORT_BUCKET = "sales-reports" }

[stacks.job.environments.dev]
region = "ap-northeast-1"
tags = { team = "data", env = "dev" }

[stacks.job.environments.dev.parameters]
ClusterArn = "arn:aws:ecs:ap-northeast-1:123456789012:cluster/batch-dev"
TaskFamily = "nightly-report"
Subnets = ["subnet-0a1b2c3d", "subnet-1a2b3c4d"]
SecurityGroups = "sg-0123456789abcdef0"
ExecutionRoleArn = "arn:aws:iam::123456789012:role/ecsTaskExecutionRole"
'''
# A deploy_role stack for BASE's one stack; {repo} and {stacks} are the cases' values.
ROLES = """
[stacks.roles]
blueprint = "deploy_role"
[stacks.roles.options]
github_repository = "{repo}"
{stacks}
[stacks.roles.environments.dev]
region = "ap-northeast-1"
"""
USER_SAMCONFIG_PART = '''# my own settings, keep them
[default.global.parameters]
stack_name = "mine"

["quoted-dev".deploy.parameters] # a quoted header of mine
parameter_overrides = """A=1
B=2"""
'''


def run(folder: Path, capsys, monkeypatch, *args: str) -> tuple[int, list[str]]:
    monkeypatch.chdir(folder)
    capsys.readouterr()
    code = main(["render", *args])
    return code, capsys.readouterr().err.splitlines()


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def rendered_base(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("hostile-base")
    (folder / "stacks.toml").write_text(BASE)
    (folder / "samconfig.toml").write_text("version = 0.1\n\n" + USER_SAMCONFIG_PART)
    assert main(["render", "--manifest", str(folder / "stacks.toml"), "--out", str(folder / "templates_out"),
                 "--samconfig", str(folder / "samconfig.toml")]) == 0
    return folder


def sub(old: str, new: str):
    def change(text: str) -> str:
        assert old in text, old
        return text.replace(old, new, 1)
    return change


def append(extra: str):
    return lambda text: text + extra


# (id, change to stacks.toml (text → text or bytes), what the one error line must contain, or None for a render)
MANIFEST_CASES = [
    ("bom", lambda t: "\ufeff" + t, "byte-order mark"),
    ("not-utf8", lambda t: t.encode() + b"\n# \xff\xfe\n", "not UTF-8"),
    ("latin1-description", lambda t: t.replace("Nightly sales report", "Nächtlich").encode("latin-1"), "not UTF-8"),
    ("nul-byte", append("\x00"), "invalid TOML"),
    ("syntax", append("[stacks.job\n"), "invalid TOML"),
    ("duplicate-table", append("[stacks.job.options]\nx = 1\n"), "invalid TOML"),
    ("deep-array", append("deep = " + "[" * 3000 + "]" * 3000 + "\n"), "stacks.toml"),
    ("deep-inline-table", sub('environment = { REPORT_BUCKET = "sales-reports" }', "environment = " + "{a=" * 900 + "1" + "}" * 900), "stacks.toml"),
    ("huge-int", sub('description = "Nightly sales report"', "description = " + "9" * 5000), "digits"),
    ("top-level-key", lambda t: "title = 1\n" + t, "top-level"),
    ("stacks-not-table", lambda t: "stacks = 1\n", "stacks"),
    ("no-stacks", lambda t: "", "stacks"),
    ("stack-is-string", lambda t: 'stacks = { job = "x" }\n', "stack job"),
    ("blueprint-list", sub('blueprint = "scheduled_task"', 'blueprint = ["scheduled_task"]'), "blueprint"),
    ("blueprint-int", sub('blueprint = "scheduled_task"', "blueprint = 3"), "blueprint"),
    ("blueprint-missing", sub('blueprint = "scheduled_task"\n', ""), "blueprint"),
    ("blueprint-unknown", sub('blueprint = "scheduled_task"', 'blueprint = "scheduled_tsk"'), "scheduled_task"),
    ("blueprint-module-missing", sub('blueprint = "scheduled_task"', 'blueprint = "no_such.module"'), "blueprint"),
    ("description-table", sub('description = "Nightly sales report"', "description = { a = 1 }"), "description"),
    ("options-string", sub("[stacks.job.options]\n", 'options = "x"\n[stacks.job.xoptions]\n'), "stack job"),
    ("option-unknown", sub('container_name = "app"', 'container_name = "app"\ncontainer = "x"'), "options.container"),
    ("option-key-newline", sub('container_name = "app"', 'container_name = "app"\n"bad\\nkey" = 1'), "stack job"),
    ("option-wrong-type", sub('container_name = "app"', "container_name = 5"), "options.container_name"),
    ("option-deep-table", sub('container_name = "app"', 'container_name = "app"\nenvironment2 = ' + "{a=" * 300 + "1" + "}" * 300), "stack"),
    ("command-string", sub('command = ["python", "report.py"]', 'command = "python report.py"'), "options.command"),
    ("command-mixed", sub('command = ["python", "report.py"]', 'command = ["python", 3]'), "options.command"),
    ("environment-list", sub('environment = { REPORT_BUCKET = "sales-reports" }', 'environment = ["A=1"]'), "options.environment"),
    ("env-var-non-ascii", sub("REPORT_BUCKET", '"RÉPORT"'), "options.environment"),
    ("env-var-newline", sub('{ REPORT_BUCKET = "sales-reports" }', '{ "A\\n" = "x" }'), "options.environment"),
    ("container-trailing-newline", sub('container_name = "app"', 'container_name = "app\\n"'), "container_name"),
    ("environments-missing", lambda t: t.split("[stacks.job.environments.dev]")[0], "environments"),
    ("environment-string", lambda t: t.split("[stacks.job.options]")[0].replace('description = "Nightly sales report"',
     'description = "Nightly sales report"\nenvironments = { dev = "x" }') + "[stacks.job.options]" + t.split("[stacks.job.options]")[1].split("[stacks.job.environments.dev]")[0],
     "environments.dev"),
    ("environment-bad-name", lambda t: t.replace("environments.dev", "environments.Dev-1"), "environment"),
    ("environment-unknown-key", sub('region = "ap-northeast-1"', 'region = "ap-northeast-1"\nregoin = "x"'), "environments.dev.regoin"),
    ("parameters-string", lambda t: t.split("[stacks.job.environments.dev.parameters]")[0] + 'parameters = "x"\n', "environments.dev.parameters"),
    ("parameter-table", sub('TaskFamily = "nightly-report"', "TaskFamily = { a = 1 }"), "TaskFamily"),
    ("parameter-bool", sub('TaskFamily = "nightly-report"', "TaskFamily = true"), "TaskFamily"),
    ("parameter-unknown", sub('TaskFamily = "nightly-report"', 'TaskFamily = "nightly-report"\nTaskFamly = "x"'), "TaskFamly"),
    ("parameter-missing", sub('TaskFamily = "nightly-report"\n', ""), "TaskFamily"),
    ("family-trailing-newline", sub('TaskFamily = "nightly-report"', 'TaskFamily = "nightly-report\\n"'), "TaskFamily"),
    ("family-revision", sub('TaskFamily = "nightly-report"', 'TaskFamily = "nightly-report:3"'), "TaskFamily"),
    ("family-arn-other-region", sub('TaskFamily = "nightly-report"', 'TaskFamily = "arn:aws:ecs:us-east-1:123456789012:task-definition/x"'), "TaskFamily"),
    ("subnet-bad", sub('"subnet-1a2b3c4d"', '"subnet-xyz"'), "Subnets"),
    ("subnet-fullwidth", sub('"subnet-1a2b3c4d"', '"subnet-１a2b3c4d"'), "Subnets"),
    ("sg-newline", sub('"sg-0123456789abcdef0"', '"sg-0123456789abcdef0\\n"'), "SecurityGroups"),
    ("role-arn-bad", sub("role/ecsTaskExecutionRole", "role/"), "ExecutionRoleArn"),
    ("account-arabic-digits", sub("123456789012:cluster", "\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669\u0660\u0661\u0662:cluster"), "ClusterArn"),
    ("account-mismatch", sub("123456789012:role/ecs", "210987654321:role/ecs"), "account"),
    ("cluster-other-region", sub("arn:aws:ecs:ap-northeast-1:123456789012:cluster", "arn:aws:ecs:us-east-1:123456789012:cluster"), "ClusterArn"),
    ("cluster-other-partition", sub("arn:aws:ecs:ap-northeast-1:123456789012:cluster", "arn:aws-cn:ecs:ap-northeast-1:123456789012:cluster"), "ClusterArn"),
    ("region-unknown", sub('region = "ap-northeast-1"', 'region = "ap-northeast-9"'), "region"),
    ("region-trailing-newline", sub('region = "ap-northeast-1"', 'region = "ap-northeast-1\\n"'), "region"),
    ("region-int", sub('region = "ap-northeast-1"', "region = 1"), "region"),
    ("region-upper", sub('region = "ap-northeast-1"', 'region = "AP-NORTHEAST-1"'), "region"),
    ("tags-string", sub('tags = { team = "data", env = "dev" }', 'tags = "team=data"'), "tags"),
    ("tag-aws-prefix", sub('team = "data"', '"aws:team" = "data"'), "tags"),
    ("tag-value-int", sub('team = "data"', "team = 1"), "tags"),
    ("tag-value-hash", sub('team = "data"', 'team = "a#b"'), "tags"),
    ("tag-key-long", sub('team = "data"', f'"{"k" * 129}" = "data"'), "tags"),
    ("tag-non-ascii", sub('team = "data"', 'team = "dätä"'), "tags"),
    ("confirm-string", sub('tags = { team = "data", env = "dev" }', 'tags = { team = "data", env = "dev" }\nconfirm_changeset = "no"'), "confirm_changeset"),
    ("schedule-int", sub('schedule = "cron(0 2 * * ? *)"', "schedule = 5"), "schedule"),
    ("cron-five-fields", sub("cron(0 2 * * ? *)", "cron(0 2 * * ?)"), "schedule"),
    ("cron-both-question", sub("cron(0 2 * * ? *)", "cron(0 2 ? * ? *)"), "schedule"),
    ("cron-minute-60", sub("cron(0 2 * * ? *)", "cron(60 2 * * ? *)"), "schedule"),
    ("cron-arabic-digit", sub("cron(0 2 * * ? *)", "cron(\u0660 2 * * ? *)"), "schedule"),
    ("cron-trailing-newline", sub('"cron(0 2 * * ? *)"', '"cron(0 2 * * ? *)\\n"'), "schedule"),
    ("rate-zero", sub("cron(0 2 * * ? *)", "rate(0 days)"), "schedule"),
    ("rate-week", sub("cron(0 2 * * ? *)", "rate(1 week)"), "schedule"),
    ("tz-posix", sub('"Asia/Tokyo"', '"posix/Asia/Tokyo"'), "timezone"),
    ("tz-right", sub('"Asia/Tokyo"', '"right/UTC"'), "timezone"),
    ("tz-folder", sub('"Asia/Tokyo"', '"America/Argentina"'), "timezone"),
    ("tz-path", sub('"Asia/Tokyo"', '"../../etc/passwd"'), "timezone"),
    ("tz-alias", sub('"Asia/Tokyo"', '"Japan"'), "timezone"),
    ("tz-int", sub('"Asia/Tokyo"', "9"), "timezone"),
    ("stack-name-upper", lambda t: t.replace("stacks.job", "stacks.Job"), "stack"),
    ("stack-name-newline", lambda t: t.replace("stacks.job", 'stacks."jo\\nb"'), "stack"),
    # inputs that are valid and must render
    ("cron-day-31", sub("cron(0 2 * * ? *)", "cron(0 12 31 * ? *)"), None),
    ("cron-feb-29", sub("cron(0 2 * * ? *)", "cron(0 12 29 2 ? *)"), None),
    ("cron-LW", sub("cron(0 2 * * ? *)", "cron(0 12 LW * ? *)"), None),
    ("cron-15W", sub("cron(0 2 * * ? *)", "cron(0 12 15W * ? *)"), None),
    ("cron-hash", sub("cron(0 2 * * ? *)", "cron(0 12 ? * 6#3 *)"), None),
    ("cron-last-friday", sub("cron(0 2 * * ? *)", "cron(0 12 ? * 6L *)"), None),
    ("cron-past-year", sub("cron(0 2 * * ? *)", "cron(0 12 1 1 ? 2001)"), None),
    ("rate-huge", sub("cron(0 2 * * ? *)", "rate(99999999999999999999 days)"), None),
    ("cron-mixed", sub("cron(0 2 * * ? *)", "cron(0,30 1-5/2 ? * MON-FRI,SUN 2026-2030)"), None),
    ("tag-key-space", sub('team = "data"', '"cost center" = "data"'), None),
    ("description-multibyte", sub("Nightly sales report", "é" * 700), None),
    # deploy_role and [pipeline]: strings that end up in a trust policy's `sub` or a workflow's trigger
    ("deploy-repo-trailing-newline", append(ROLES.format(repo="octo-org/batch-jobs\\n", stacks="")), "github_repository"),
    ("deploy-repo-arabic-digits", append(ROLES.format(repo="octo-org@\u0661\u0662/batch-jobs", stacks="")), "github_repository"),
    ("deploy-stacks-trailing-newline", append(ROLES.format(repo="octo-org/batch-jobs", stacks='stacks = ["job\\n"]')), "stacks"),

]


@pytest.mark.parametrize("case, change, expected", MANIFEST_CASES, ids=[c[0] for c in MANIFEST_CASES])
def test_hostile_manifest(case, change, expected, rendered_base, tmp_path, capsys, monkeypatch):
    folder = tmp_path / "p"
    shutil.copytree(rendered_base, folder)
    changed = change(BASE)
    (folder / "stacks.toml").write_bytes(changed if isinstance(changed, bytes) else changed.encode("utf-8"))
    before = snapshot(folder)
    code, err = run(folder, capsys, monkeypatch)
    if expected is None:
        assert code == 0, err
        samconfig = (folder / "samconfig.toml").read_text()
        assert USER_SAMCONFIG_PART in samconfig  # the user's sections, comment and multi-line string as written
    else:
        assert code == 2 and len(err) == 1, err
        assert err[0].startswith("error: ") and expected in err[0], err[0]
        assert snapshot(folder) == before  # nothing written


SAMCONFIG_CASES = [
    ("crlf", lambda b: b.replace(b"\n", b"\r\n"), None),
    ("comment-after-generated", lambda b: b + b"\n# trailing note of mine\n\n", None),
    ("user-subtable", lambda b: b + b"\n[job-dev.deploy.parameters.extra]\nfoo = 1\n", "job-dev.deploy.parameters.extra"),
    ("bom", lambda b: b"\xef\xbb\xbf" + b, "byte-order mark"),
    ("not-utf8", lambda b: b + b"# \xff\n", "not UTF-8"),
    ("broken-toml", lambda b: b + b"[broken\n", "samconfig.toml"),
    ("deep", lambda b: b + b"x = " + b"[" * 3000 + b"]" * 3000 + b"\n", "samconfig.toml"),
    ("huge-int", lambda b: b + b"x = " + b"9" * 5000 + b"\n", "samconfig.toml"),
    ("dotted-generated", lambda b: b + b'\n[job-prod]\ndeploy.parameters.stack_name = "x"\n', None),
]


@pytest.mark.parametrize("case, change, expected", SAMCONFIG_CASES, ids=[c[0] for c in SAMCONFIG_CASES])
def test_hostile_samconfig(case, change, expected, rendered_base, tmp_path, capsys, monkeypatch):
    folder = tmp_path / "p"
    shutil.copytree(rendered_base, folder)
    samconfig = folder / "samconfig.toml"
    samconfig.write_bytes(change(samconfig.read_bytes()))
    # a manifest change, so that the generated section must be rewritten
    (folder / "stacks.toml").write_text(BASE.replace('team = "data"', 'team = "sales"'))
    before = snapshot(folder)
    user_bytes = change(b"")  # what the case added (appended cases), kept byte for byte on success
    code, err = run(folder, capsys, monkeypatch)
    if expected is None:
        assert code in (0, 2), err
        if code == 0:
            after = samconfig.read_bytes()
            crlf = case == "crlf"
            assert (after.count(b"\r\n") == after.count(b"\n")) if crlf else b"\r\n" not in after
            assert USER_SAMCONFIG_PART.encode().replace(b"\n", b"\r\n" if crlf else b"\n") in after
            if user_bytes and not crlf:
                assert user_bytes in after
            assert b'team=\\"sales\\"' in after
        else:
            assert len(err) == 1 and snapshot(folder) == before, err
    else:
        assert code == 2 and len(err) == 1, err
        assert expected in err[0], err[0]
        assert snapshot(folder) == before


@pytest.mark.parametrize("branch", ["main\\n", "ma\u00efn", " main", "main\\u0000"])
def test_pipeline_branch_is_checked_whole_and_ascii(branch, rendered_base, tmp_path, capsys, monkeypatch):
    folder = tmp_path / "p"
    shutil.copytree(rendered_base, folder)
    (folder / "stacks.toml").write_text(BASE + f'\n[pipeline]\nbranch = "{branch}"\n', encoding="utf-8")
    before = snapshot(folder)
    monkeypatch.chdir(folder)
    capsys.readouterr()
    code = main(["pipeline", "--provider", "github"])
    err = capsys.readouterr().err.splitlines()
    assert code == 2 and len(err) == 1 and "branch" in err[0], err
    assert snapshot(folder) == before


def test_the_tables_are_large_enough():
    assert len(MANIFEST_CASES) + len(SAMCONFIG_CASES) >= 80


MUTATIONS = ["", "\n", "\x00", "\ufeff", "\u2028", "é", "١", "[", "]", "{", "}", "=", '"', "'", "\\", "#", ",", ".", " ",
             "\r\n", "9" * 40, "-1", "true", "[[x]]", "\t", "*", "?", "arn:aws:", "aws:", "${X}"]


@pytest.mark.parametrize("seed", range(300))
def test_seeded_fuzz_never_tracebacks(seed, rendered_base, tmp_path, capsys, monkeypatch):
    """Random small mutations of the manifest (a few characters replaced, inserted or deleted): exit 0
    with the user's samconfig content intact, or exit 2 with one line and nothing changed. Never 3."""
    rng = random.Random(seed)
    text = BASE
    for _ in range(rng.randint(1, 3)):
        position = rng.randrange(len(text))
        action = rng.choice(("insert", "replace", "delete"))
        piece = rng.choice(MUTATIONS)
        if action == "insert":
            text = text[:position] + piece + text[position:]
        elif action == "replace":
            text = text[:position] + piece + text[position + rng.randint(1, 8):]
        else:
            text = text[:position] + text[position + rng.randint(1, 8):]
    folder = tmp_path / "p"
    shutil.copytree(rendered_base, folder)
    (folder / "stacks.toml").write_text(text, encoding="utf-8", errors="surrogatepass")
    before = snapshot(folder)
    code, err = run(folder, capsys, monkeypatch)
    assert code in (0, 2), (text, err)
    if code == 0:
        assert USER_SAMCONFIG_PART in (folder / "samconfig.toml").read_text()
    else:
        assert len(err) == 1 and snapshot(folder) == before, (text, err)
