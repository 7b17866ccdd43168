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


# --- the text edit and its tomlkit fallback ----------------------------------------------------

import pytest

from generator.core.errors import UserError
from generator.core.samconfig import DeploySection, _edit_with_tomlkit, update_samconfig


def section(env: str, **changes) -> DeploySection:
    values = dict(config_env=f"job-{env}", stack_name=f"job-{env}", template_file="templates_out/job/template.yaml",
                  parameter_overrides={"Subnets": "subnet-1,subnet-2", "Note": 'say "hi"'}, capabilities=("CAPABILITY_IAM",),
                  region="eu-west-1", tags={"team": "data"}, confirm_changeset=True)
    values.update(changes)
    return DeploySection(**values)


def test_fresh_file_is_what_tomlkit_would_write():
    sections = [section("dev"), section("prod", region=None, tags={})]
    assert update_samconfig(None, sections) == _edit_with_tomlkit("version = 0.1\n", sections)


def test_rerender_replaces_only_our_keys_and_keeps_comments_around_them():
    existing = update_samconfig(None, [section("dev")]) + (
        "# notes about prod, above the next table\n\n[default.build.parameters]\ncached = true\n"
    )
    existing = existing.replace('confirm_changeset = true\n', 'confirm_changeset = true\n# my comment after our keys\n', 1)
    updated = update_samconfig(existing, [section("dev", region="us-east-1")])
    assert 'region = "us-east-1"' in updated and 'region = "eu-west-1"' not in updated
    assert "# my comment after our keys\n" in updated
    assert "# notes about prod, above the next table\n\n[default.build.parameters]\ncached = true\n" in updated
    assert update_samconfig(updated, [section("dev", region="us-east-1")]) == updated


def test_new_sections_are_appended_after_user_content():
    existing = "version = 0.1\n\n[default.deploy.parameters]\nresolve_s3 = true  # keep\n"
    updated = update_samconfig(existing, [section("dev")])
    assert updated.startswith(existing)
    assert tomllib.loads(updated)["job-dev"]["deploy"]["parameters"]["stack_name"] == "job-dev"


def test_our_table_written_as_dotted_keys_is_refused_not_mangled():
    # Neither the text edit (duplicate table) nor tomlkit (it writes a top-level [deploy.parameters])
    # can rewrite this faithfully, so the file is left alone with a clear error.
    existing = 'version = 0.1\n\n[job-dev]\ndeploy.parameters.stack_name = "old"  # hand-written\n\n[other]\nx = 1\n'
    with pytest.raises(UserError) as error:
        update_samconfig(existing, [section("dev")])
    assert "write each as a [<stack>-<env>.deploy.parameters] table" in error.value.message


def test_inline_table_elsewhere_in_the_same_env_goes_through_tomlkit():
    existing = 'version = 0.1\n\n[job-dev]\nbuild = { parameters = { cached = true } }\n'
    updated = update_samconfig(existing, [section("dev")])
    config = tomllib.loads(updated)
    assert config["job-dev"]["build"] == {"parameters": {"cached": True}}
    assert config["job-dev"]["deploy"]["parameters"]["stack_name"] == "job-dev"


def test_quoted_header_for_our_table_goes_through_tomlkit():
    existing = 'version = 0.1\n\n["job-dev".deploy.parameters]\nstack_name = "old"\n'
    updated = update_samconfig(existing, [section("dev")])
    assert tomllib.loads(updated)["job-dev"]["deploy"]["parameters"]["template_file"] == "templates_out/job/template.yaml"


def test_values_needing_escapes_read_back_exactly():
    odd = section("dev", parameter_overrides={"A": 'quote " backslash-free\ttab', "B": "ünïcødé"})
    config = tomllib.loads(update_samconfig(None, [odd]))
    assert config["job-dev"]["deploy"]["parameters"]["parameter_overrides"] == 'A="quote \\" backslash-free\ttab" B="ünïcødé"'


def test_blank_lines_and_comments_after_our_section_stay_as_written():
    # a user appends their own section, introduced by a blank line and a comment
    existing = update_samconfig(None, [section("dev")]) + "\n# mine\n[default.build.parameters]\ncached = true\n\n\n# end\n"
    assert update_samconfig(existing, [section("dev")]) == existing
    updated = update_samconfig(existing, [section("dev", region="us-east-1")])
    assert updated == existing.replace('region = "eu-west-1"', 'region = "us-east-1"')


def test_user_content_after_our_section_keeps_render_and_check_clean(project, run_cli):
    assert run_cli("render", cwd=project).code == 0
    samconfig = project / "samconfig.toml"
    samconfig.write_text(samconfig.read_text() + "\n# mine\n[default.build.parameters]\ncached = true\n")
    before = samconfig.read_text()
    diff = run_cli("diff", cwd=project)
    assert diff.code == 0 and "samconfig.toml" not in diff.out  # what `check` compares before linting
    assert run_cli("render", cwd=project).code == 0
    assert samconfig.read_text() == before


def test_a_comment_between_our_keys_is_replaced_with_the_section():
    existing = update_samconfig(None, [section("dev")]).replace('region = "eu-west-1"\n', '# inside our section\nregion = "eu-west-1"\n')
    assert update_samconfig(existing, [section("dev")]) == update_samconfig(None, [section("dev")])


# --- owned sections of removed stacks and environments ------------------------------------------

from generator.core.samconfig import GENERATED_MARK, generated_sections


def test_generated_sections_are_those_carrying_the_mark():
    existing = (update_samconfig(None, [section("dev"), section("prod")])
                + '\n[hand-dev.deploy.parameters]\nstack_name = "hand"\n'
                + f'\n["quoted-dev" . deploy.parameters] # {GENERATED_MARK}\nstack_name = "q"\n')
    assert sorted(generated_sections(existing)) == ["job-dev", "job-prod", "quoted-dev"]
    assert generated_sections(existing)["job-prod"]["stack_name"] == "job-prod"
    assert generated_sections(None) == {}


def test_removed_sections_go_and_everything_around_them_stays():
    kept = update_samconfig(None, [section("dev")])
    existing = (update_samconfig(None, [section("dev"), section("prod")])
                + "\n# notes above the build table\n[default.build.parameters]\ncached = true\n")
    updated = update_samconfig(existing, [section("dev")], remove=["job-prod"])
    assert "job-prod" not in updated
    assert updated == kept + "\n# notes above the build table\n[default.build.parameters]\ncached = true\n"
    # the last section of the file removed: no blank line left dangling
    assert update_samconfig(update_samconfig(None, [section("dev"), section("prod")]), [section("dev")], remove=["job-prod"]) == kept


def test_a_removed_section_with_a_quoted_header_goes_through_tomlkit():
    existing = (update_samconfig(None, [section("dev")])
                + f'\n["job-prod".deploy.parameters] # {GENERATED_MARK}\nstack_name = "job-prod"\n\n[default.build.parameters]\ncached = true\n')
    updated = update_samconfig(existing, [section("dev")], remove=["job-prod"])
    config = tomllib.loads(updated)
    assert "job-prod" not in config and config["default"]["build"]["parameters"] == {"cached": True}
    assert config["job-dev"]["deploy"]["parameters"]["stack_name"] == "job-dev"
