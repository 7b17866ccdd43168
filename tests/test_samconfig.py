"""samconfig.toml: generator-owned sections are rewritten, everything else survives."""

from __future__ import annotations

import tomllib


USER_OWNED = '''# Team notes: deploy with `python -m generator deploy`. Keep this comment.
version = 0.1

[default.build.parameters]
cached = true  # speeds up builds
parallel = true

[nightly-report-dev.deploy.parameters]
stack_name = "hand-edited-name"
'''


def test_comments_and_foreign_sections_survive_render(project, run_cli):
    (project / "samconfig.toml").write_text(USER_OWNED)
    assert run_cli("render", cwd=project).code == 0
    text = (project / "samconfig.toml").read_text()
    assert text.startswith("# Team notes: deploy with `python -m generator deploy`. Keep this comment.\nversion = 0.1\n")
    assert "[default.build.parameters]\ncached = true  # speeds up builds\nparallel = true\n" in text
    config = tomllib.loads(text)
    assert config["default"]["build"]["parameters"] == {"cached": True, "parallel": True}
    # the generator owns this section: the hand edit is replaced
    assert config["nightly-report-dev"]["deploy"]["parameters"]["stack_name"] == "nightly-report-dev"


def test_deploy_section_has_everything_sam_deploy_needs(project, run_cli):
    assert run_cli("render", cwd=project).code == 0
    section = tomllib.loads((project / "samconfig.toml").read_text())["nightly-report-dev"]["deploy"]["parameters"]
    assert section == {
        "stack_name": "nightly-report-dev",
        "template_file": "templates_out/nightly-report/template.yaml",
        "parameter_overrides": (
            'ClusterArn="arn:aws:ecs:ap-northeast-1:123456789012:cluster/batch-dev" TaskFamily="nightly-report" '
            'Subnets="subnet-0a1b2c3d,subnet-1a2b3c4d" SecurityGroups="sg-0123456789abcdef0" '
            'ExecutionRoleArn="arn:aws:iam::123456789012:role/ecsTaskExecutionRole" '
            'TaskRoleArn="arn:aws:iam::123456789012:role/nightly-report-task"'
        ),
        "capabilities": "CAPABILITY_IAM",
        "region": "ap-northeast-1",
        "tags": 'team="data" env="dev"',
        "resolve_s3": True,
        "confirm_changeset": False,
    }
    prod = tomllib.loads((project / "samconfig.toml").read_text())["nightly-report-prod"]["deploy"]["parameters"]
    assert prod["confirm_changeset"] is True
