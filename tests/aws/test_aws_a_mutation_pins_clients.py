"""Mutation pins for :mod:`modelway.backends.aws.clients`: the one-line errors a user can act on.

Each AWS error code the backends map (every element of ``ACCESS_DENIED`` and ``MISSING``, the
bare ``403``/``404`` of S3) is raised as botocore raises it (a ``ClientError`` with the parsed
error) inside :func:`aws_call`, and the message is checked word for word; codes a user cannot
fix are re-raised unchanged. The clients themselves are checked against the module's moto server.
"""
from __future__ import annotations

import pytest
from boto3.exceptions import S3UploadFailedError
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

from modelway.backends.aws.clients import (ACCESS_DENIED, MAX_ATTEMPTS, MISSING, AwsAccessDenied, AwsClients,
                                           StackResourceMissing, aws_call, transfer_config)
from modelway.errors import UserError
from tests.aws.test_aws_a_mutation_pins_deployer import stack  # noqa: F401 - the module's moto stack


def _error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "m"}}, "Op")


def test_the_mapped_codes_are_exactly_these():
    assert ACCESS_DENIED == {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError",
                             "UnrecognizedClientException", "InvalidClientTokenId", "AllAccessDisabled"}
    assert MISSING == {"NoSuchBucket", "ResourceNotFound", "ResourceNotFoundException", "NotFoundException",
                       "RepositoryNotFoundException", "NotFound"}
    assert MAX_ATTEMPTS == 8


@pytest.mark.parametrize("code", sorted(ACCESS_DENIED))
def test_access_denied_names_who_what_and_where(code):
    with pytest.raises(AwsAccessDenied) as caught:
        with aws_call("sagemaker:CreateModel", "model m", stack="dev", identity=lambda: "arn:aws:iam::1:role/r"):
            raise _error(code)
    assert str(caught.value) == (f"stack dev: arn:aws:iam::1:role/r is not allowed to sagemaker:CreateModel on model m "
                                 f"({code}); grant sagemaker:CreateModel to that role, or run as a persona role that "
                                 "has it")
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


@pytest.mark.parametrize("code", sorted(MISSING))
def test_a_missing_resource_names_it_and_asks_about_the_outputs(code):
    with pytest.raises(StackResourceMissing) as caught:
        with aws_call("ecr:DescribeImages", "repository r", stack="prod"):
            raise _error(code)
    assert str(caught.value) == (f"stack prod: repository r does not exist (ecr:DescribeImages: {code}); are the stack "
                                 "outputs current and for this account and region?")
    assert caught.value.__suppress_context__


def test_bare_403_and_404_are_mapped_for_s3_only():
    with pytest.raises(AwsAccessDenied, match=r"^stack dev: who is not allowed to s3:GetObject on k \(403\)"):
        with aws_call("s3:GetObject", "k", stack="dev", identity="who"):
            raise _error("403")
    with pytest.raises(StackResourceMissing, match=r"^stack dev: k does not exist \(s3:GetObject: 404\)"):
        with aws_call("s3:GetObject", "k", stack="dev"):
            raise _error("404")
    for code in ("403", "404", "ValidationException", ""):
        error = _error(code)
        with pytest.raises(ClientError) as caught:
            with aws_call("sagemaker:DescribeModel", "k", stack="dev"):
                raise error
        assert caught.value is error  # not mapped: botocore's own error, unchanged


def test_who_when_no_identity_is_known():
    with pytest.raises(AwsAccessDenied, match=r"^stack dev: the current AWS identity is not allowed to s3:PutObject"):
        with aws_call("s3:PutObject", "k", stack="dev"):
            raise _error("AccessDenied")


def test_an_upload_failure_is_mapped_by_its_cause():
    with pytest.raises(AwsAccessDenied, match=r"\(AccessDenied\)"):
        with aws_call("s3:PutObject", "k", stack="dev"):
            try:
                raise _error("AccessDenied")
            except ClientError as exc:
                raise S3UploadFailedError("upload failed") from exc
    with pytest.raises(StackResourceMissing, match=r"\(s3:PutObject: NoSuchBucket\)"):
        with aws_call("s3:PutObject", "k", stack="dev"):
            try:
                raise _error("NoSuchBucket")
            except ClientError:
                raise S3UploadFailedError("upload failed")  # noqa: B904 - the implicit context is the cause
    upload = S3UploadFailedError("disk full")
    with pytest.raises(S3UploadFailedError) as caught:
        with aws_call("s3:PutObject", "k", stack="dev"):
            raise upload
    assert caught.value is upload


def test_no_credentials_and_no_network_are_one_line():
    with pytest.raises(UserError) as caught:
        with aws_call("s3:GetObject", "s3://b/k", stack="dev"):
            raise NoCredentialsError()
    assert str(caught.value) == ("stack dev: no AWS credentials to s3:GetObject on s3://b/k; configure a profile "
                                 "(AWS_PROFILE) or credentials for this account")
    assert caught.value.__suppress_context__
    unreachable = EndpointConnectionError(endpoint_url="https://s3.example")
    with pytest.raises(UserError) as caught:
        with aws_call("s3:GetObject", "s3://b/k", stack="dev"):
            raise unreachable
    assert str(caught.value) == f"stack dev: cannot reach AWS to s3:GetObject on s3://b/k ({unreachable})"
    assert caught.value.__suppress_context__


def test_other_errors_pass_through():
    with pytest.raises(KeyError):
        with aws_call("s3:GetObject", "k", stack="dev"):
            raise KeyError("x")


def test_transfer_config():
    config = transfer_config()
    assert (config.multipart_threshold, config.multipart_chunksize, config.max_concurrency, config.use_threads) == (
        16 * 1024 * 1024, 16 * 1024 * 1024, 8, True)
    assert transfer_config() is config


def test_clients_are_made_once_per_process_with_standard_retries(stack):  # noqa: F811
    clients = AwsClients("us-east-2", stack="dev")  # not the environment's default region: this one is used
    s3 = clients.get("s3")
    assert clients.get("s3") is s3 and clients.get("sts") is not s3
    config = s3.meta.config
    # botocore's max_attempts counts the retries: the first try plus 8
    assert config.retries == {"mode": "standard", "total_max_attempts": MAX_ATTEMPTS + 1}
    assert (config.connect_timeout, config.read_timeout, config.max_pool_connections) == (10, 60, 32)
    assert s3.meta.region_name == "us-east-2" and clients.region == "us-east-2"
    clients._pid = -1  # as seen from a forked child: new clients, the same session
    session = clients._session
    assert clients.get("s3") is not s3 and clients._session is session
    assert clients.get("s3") is clients.get("s3")


def test_identity_is_the_callers_arn_or_a_plain_fallback(stack):  # noqa: F811
    clients = AwsClients("eu-west-1", stack="dev")
    assert clients.identity().startswith("arn:aws:sts::123456789012:")
    clients.get("sts").meta.events.register("before-call.sts.GetCallerIdentity",
                                            lambda **_: (_ for _ in ()).throw(RuntimeError("down")))
    assert clients.identity() == "the current AWS identity"


def test_call_names_the_stack_and_asks_the_identity(stack):  # noqa: F811
    clients = AwsClients("eu-west-1", stack="teststack")
    with pytest.raises(AwsAccessDenied) as caught:
        with clients.call("s3:PutObject", "s3://b"):
            raise _error("AccessDenied")
    assert str(caught.value).startswith("stack teststack: arn:aws:sts::123456789012:")
