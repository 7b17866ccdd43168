"""The one list of blueprints: name in stacks.toml → module (a typo fails at import)."""

from blueprints import deploy_role
from blueprints import ecr_redeploy
from blueprints import s3_object_task
from blueprints import scheduled_task
from blueprints import sfn_task
from blueprints import task_foundation

BLUEPRINTS = {
    "scheduled_task": scheduled_task,
    "sfn_task": sfn_task,
    "s3_object_task": s3_object_task,
    "task_foundation": task_foundation,
    "ecr_redeploy": ecr_redeploy,
    "deploy_role": deploy_role,
}
