"""boto3 clients for one stack: retries with backoff on throttling, one-line errors a user can act on.

Every AWS call the backends make goes through :func:`aws_call`, which turns the errors a
user can cause or fix into one line (a :class:`~modelway.errors.UserError`, exit 2):
AccessDenied names the identity (role) and the action refused; a missing bucket or
resource names it and the stack. Throttling never reaches it: botocore's ``standard``
retry mode already retries throttling and 5xx errors with exponential backoff and jitter.
The endpoint is boto3's usual one (``AWS_ENDPOINT_URL`` points it at a local server).
"""
from __future__ import annotations

import contextlib
import functools
import os
from typing import Any, Iterator

from modelway.errors import UserError

# botocore "standard" mode: exponential backoff with jitter on throttling (Throttling,
# ThrottlingException, SlowDown, RequestLimitExceeded...) and transient 5xx errors.
MAX_ATTEMPTS = 8

ACCESS_DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError",
                 "UnrecognizedClientException", "InvalidClientTokenId", "AllAccessDisabled"}
MISSING = {"NoSuchBucket", "ResourceNotFound", "ResourceNotFoundException", "NotFoundException",
           "RepositoryNotFoundException", "NotFound"}


class AwsAccessDenied(UserError):
    """The identity in use may not perform an action on a stack resource."""


class StackResourceMissing(UserError):
    """A resource the stack outputs name does not exist (stale outputs, wrong account or region)."""


class AwsClients:
    """Clients for one region, created once each; ``describe`` names the stack in errors.

    Example:
        >>> clients = AwsClients("eu-west-1", stack="dev")   # doctest: +SKIP
        >>> clients.get("s3").list_buckets()                  # doctest: +SKIP
    """

    def __init__(self, region: str, *, stack: str) -> None:
        self.region = region
        self.stack = stack
        self._clients: dict[str, Any] = {}
        self._session: Any = None
        self._pid = os.getpid()

    def get(self, service: str) -> Any:
        """The boto3 client for ``service`` (created on first use; thread-safe to share)."""
        if self._pid != os.getpid():
            # a forked step: new clients (never share the parent's connections), same session
            # (its parsed service models and credentials are the expensive part to rebuild)
            self._clients, self._pid = {}, os.getpid()
        client = self._clients.get(service)
        if client is None:
            import boto3
            from botocore.config import Config

            if self._session is None:
                self._session = boto3.session.Session(region_name=self.region)
            config = Config(retries={"mode": "standard", "max_attempts": MAX_ATTEMPTS},
                            connect_timeout=10, read_timeout=60, max_pool_connections=32)
            client = self._clients[service] = self._session.client(service, config=config)
        return client

    def identity(self) -> str:
        """The ARN of the identity the calls run as (asked only when an error needs it)."""
        try:
            return self.get("sts").get_caller_identity()["Arn"]
        except Exception:  # the error being reported matters more than who we are
            return "the current AWS identity"

    @contextlib.contextmanager
    def call(self, action: str, resource: str) -> Iterator[None]:
        """Run AWS calls for ``action`` on ``resource``; see :func:`aws_call`."""
        with aws_call(action, resource, stack=self.stack, identity=self.identity):
            yield


@contextlib.contextmanager
def aws_call(action: str, resource: str, *, stack: str, identity: Any = None) -> Iterator[None]:
    """Map the AWS errors a user can fix to one line naming the action, the resource and the role.

    ``action`` is the IAM action (``s3:PutObject``); ``identity`` a callable returning the
    caller's ARN, asked only on AccessDenied.
    """
    from boto3.exceptions import S3UploadFailedError
    from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

    try:
        yield
    except (ClientError, S3UploadFailedError) as exc:
        # uploads wrap the service's ClientError in S3UploadFailedError
        cause = exc if isinstance(exc, ClientError) else (exc.__cause__ or exc.__context__)
        mapped = _mapped(cause, action, resource, stack, identity) if isinstance(cause, ClientError) else None
        if mapped is None:
            raise
        raise mapped from None
    except NoCredentialsError:
        raise UserError(f"stack {stack}: no AWS credentials to {action} on {resource}; configure a profile "
                        "(AWS_PROFILE) or credentials for this account") from None
    except EndpointConnectionError as exc:
        raise UserError(f"stack {stack}: cannot reach AWS to {action} on {resource} ({exc})") from None


def _mapped(exc: Any, action: str, resource: str, stack: str, identity: Any) -> UserError | None:
    """The one-line error for a ClientError a user can act on, or None."""
    code = exc.response.get("Error", {}).get("Code", "")
    if code in ACCESS_DENIED or (code == "403" and action.startswith("s3:")):
        who = identity() if callable(identity) else (identity or "the current AWS identity")
        return AwsAccessDenied(f"stack {stack}: {who} is not allowed to {action} on {resource} ({code}); "
                               f"grant {action} to that role, or run as a persona role that has it")
    if code in MISSING or (code == "404" and action.startswith("s3:")):
        return StackResourceMissing(f"stack {stack}: {resource} does not exist ({action}: {code}); are the stack "
                                    "outputs current and for this account and region?")
    return None


@functools.lru_cache(maxsize=None)
def transfer_config() -> Any:
    """S3 transfers: multipart above 16 MiB in 16 MiB parts, 8 threads."""
    from boto3.s3.transfer import TransferConfig

    return TransferConfig(multipart_threshold=16 * 1024 * 1024, multipart_chunksize=16 * 1024 * 1024,
                          max_concurrency=8, use_threads=True)
