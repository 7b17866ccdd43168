"""boto3 clients for one environment, and AWS errors turned into the project's one-line UserError.

Credentials and Region are found the way every AWS tool finds them (boto3's chain: --profile or
AWS_PROFILE, the AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY environment variables, the shared config
files, an instance or container role; https://boto3.amazonaws.com/v1/documentation/api/latest/guide/credentials.html);
the environment's `region` in stacks.toml wins over the profile's default Region, because that is
where `sam deploy` (samconfig's `region`) puts the stacks. `--endpoint-url` sends every call to
one local endpoint (a moto server), as AWS_ENDPOINT_URL does for sam.
"""

from __future__ import annotations

import contextlib
import re
import threading
from dataclasses import dataclass

from generator.core.errors import UserError

NO_CREDENTIALS = (
    "no AWS credentials found: set AWS_PROFILE (or pass --profile) or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
    "(for a local endpoint such as moto any values do), "
    "see https://boto3.amazonaws.com/v1/documentation/api/latest/guide/credentials.html"
)
INSTALL_HINT = "the AWS commands need boto3: pip install 'ecs-batch-templates' (boto3 is a dependency)"
# CloudFormation's answer to DescribeStacks/GetTemplate for a stack name it does not know.
_STACK_MISSING = re.compile(r"Stack with id .+ does not exist")


def one_line(text: str) -> str:
    """AWS messages may hold newlines; the CLI prints one line."""
    return " ".join(str(text).split())


def error_code(error: Exception) -> str | None:
    response = getattr(error, "response", None)
    return (response or {}).get("Error", {}).get("Code")


def is_stack_missing(error: Exception) -> bool:
    """Whether a ClientError says the stack does not exist (CloudFormation answers ValidationError)."""
    message = (getattr(error, "response", None) or {}).get("Error", {}).get("Message", "")
    return error_code(error) == "ValidationError" and bool(_STACK_MISSING.search(message))


@contextlib.contextmanager
def aws_errors(what: str, *, stack: str | None = None, field: str | None = None):
    """Turn whatever botocore raises inside into one UserError line naming `what` was being done."""
    try:
        import botocore.exceptions as bx
    except ImportError:  # pragma: no cover - boto3 is an install requirement
        raise UserError(INSTALL_HINT) from None
    try:
        yield
    except UserError:
        raise
    except bx.NoCredentialsError:
        raise UserError(NO_CREDENTIALS, stack=stack) from None
    except (bx.PartialCredentialsError, bx.ProfileNotFound, bx.NoRegionError, bx.CredentialRetrievalError) as error:
        raise UserError(f"{what}: {one_line(error)}", stack=stack, field=field) from None
    except bx.EndpointConnectionError as error:
        raise UserError(f"{what}: cannot reach {error.kwargs.get('endpoint_url', 'the endpoint')}", stack=stack, field=field) from None
    except bx.ClientError as error:
        detail = error.response.get("Error", {})
        code, message = detail.get("Code", "Error"), detail.get("Message", "")
        if code in ("ExpiredToken", "ExpiredTokenException", "InvalidClientTokenId", "UnrecognizedClientException"):
            raise UserError(f"{what}: the AWS credentials were refused ({code}: {one_line(message)})", stack=stack) from None
        raise UserError(f"{what}: {code}: {one_line(message)}", stack=stack, field=field) from None
    except bx.BotoCoreError as error:
        raise UserError(f"{what}: {one_line(error)}", stack=stack, field=field) from None


@dataclass(frozen=True)
class AwsTarget:
    """Where the calls go: the environment's Region (None: the profile's), an optional local endpoint
    and an optional named profile."""

    region: str | None
    endpoint_url: str | None = None
    profile: str | None = None


class Aws:
    """One boto3 session and its clients (made once per service; boto3 clients, unlike sessions,
    may be shared between threads, so `deploy --jobs N` makes them here, under a lock)."""

    def __init__(self, target: AwsTarget, *, stack: str | None = None):
        try:
            import boto3
            import botocore.config
        except ImportError:  # pragma: no cover - boto3 is an install requirement
            raise UserError(INSTALL_HINT) from None
        self.target = target
        self._stack = stack
        self._clients: dict[str, object] = {}
        self._lock = threading.Lock()
        # "standard" retries back off on throttling, which status/logs polling can run into.
        self._config = botocore.config.Config(retries={"mode": "standard", "max_attempts": 5})
        with aws_errors("reading the AWS configuration", stack=stack, field="--profile" if target.profile else None):
            self._session = boto3.Session(profile_name=target.profile, region_name=target.region)
        if not self._session.region_name:
            raise UserError("no AWS Region: set the environment's region in stacks.toml, or AWS_REGION, or a profile's region",
                            stack=stack, field="region")

    @property
    def region(self) -> str:
        return self._session.region_name

    def client(self, service: str):
        with self._lock:
            if service not in self._clients:
                with aws_errors(f"creating the {service} client", stack=self._stack):
                    self._clients[service] = self._session.client(service, endpoint_url=self.target.endpoint_url, config=self._config)
            return self._clients[service]
