"""Turn botocore's exceptions into one-line provstore errors a user can act on, never echoing credentials.

botocore retries throttling and dropped connections itself (``standard`` retry mode, exponential backoff
with jitter, ``max_attempts`` tries); what reaches this module has already been retried.
"""

from __future__ import annotations

from provstore.exceptions import ConfigurationError, CorruptStorage, ProvstoreError, StorageError, UnreachableStorage

__all__ = ["is_not_found", "translate"]

_NOT_FOUND = {"404", "NoSuchKey", "NotFound", "NoSuchUpload"}
_NO_BUCKET = {"NoSuchBucket"}
_BAD_CREDENTIALS = {
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "InvalidToken",
    "ExpiredToken",
    "InvalidClientTokenId",
    "TokenRefreshRequired",
    "AuthorizationHeaderMalformed",
}
_DENIED = {"AccessDenied", "403", "AllAccessDisabled", "AccountProblem", "InvalidObjectState"}
_THROTTLED = {
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestLimitExceeded",
    "TooManyRequests",
    "TooManyRequestsException",
    "RequestThrottled",
    "RequestThrottledException",
    "ServiceUnavailable",
    "503",
}


def error_code(exc: BaseException) -> str | None:
    """Return the S3 error code of a botocore ``ClientError`` (``NoSuchKey``, ``403``, ...), else None."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return None
    code = response.get("Error", {}).get("Code")
    if code:
        return str(code)
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return str(status) if status else None


def is_not_found(exc: BaseException) -> bool:
    """Return whether ``exc`` says that an object (not the bucket) does not exist."""
    return error_code(exc) in _NOT_FOUND


def translate(exc: BaseException, where: str, action: str, attempts: int) -> BaseException:
    """Return the provstore error for a botocore/urllib3 failure of ``action`` on the repository ``where``.

    Exceptions that are no S3 failure (a ``TypeError`` of the caller, a provstore error) are returned
    unchanged, so the caller can re-raise whatever this returns.
    """
    if isinstance(exc, ProvstoreError):
        return exc
    from botocore import exceptions as boto

    if isinstance(exc, boto.ClientError):
        code = error_code(exc) or "unknown"
        if code in _NO_BUCKET:
            return UnreachableStorage(f"{where}: the bucket does not exist (initialise the repository to create it)")
        if code in _BAD_CREDENTIALS:
            return UnreachableStorage(f"{where}: the server refused the credentials ({code}); check the access key")
        if code == "403":  # a bare 403 (the answer to a HEAD has no body): refused keys look the same
            return UnreachableStorage(
                f"{where}: permission denied to {action} (403), or the server refused the credentials; "
                "check the access key and its permissions"
            )
        if code in _DENIED:
            return UnreachableStorage(f"{where}: permission denied to {action} ({code})")
        if code in _THROTTLED:
            return UnreachableStorage(
                f"{where}: the server is throttling requests ({code}, still after {attempts} attempts with backoff); "
                "retry later or lower max_concurrency"
            )
        if code in ("BadDigest", "InvalidDigest", "XAmzContentSHA256Mismatch") or code.startswith("InvalidChecksum"):
            return CorruptStorage(f"{where}: the server received other bytes than were sent to {action} ({code})")
        message = exc.response.get("Error", {}).get("Message") or ""
        return StorageError(f"{where}: cannot {action}: {code}" + (f": {message}" if message else ""))
    if isinstance(exc, boto.NoCredentialsError | boto.PartialCredentialsError):
        return UnreachableStorage(
            f"{where}: no credentials found; set access_key_id and secret_access_key or aws_profile in the "
            "repository configuration, or use the standard AWS sources (environment, ~/.aws, instance role)"
        )
    if isinstance(exc, boto.ProfileNotFound):
        return ConfigurationError(f"{where}: {exc}")
    if isinstance(exc, boto.FlexibleChecksumError):
        return CorruptStorage(f"{where}: the checksum of the data read to {action} does not match: {exc}")
    if isinstance(exc, boto.IncompleteReadError | boto.ResponseStreamingError):
        return UnreachableStorage(f"{where}: the connection was lost while trying to {action}")
    if isinstance(exc, boto.ConnectionError | boto.ConnectionClosedError):
        return UnreachableStorage(f"{where}: cannot reach the endpoint (after {attempts} attempts) to {action}")
    if isinstance(exc, boto.ReadTimeoutError):
        return UnreachableStorage(f"{where}: the endpoint did not answer in time (after {attempts} attempts)")
    if isinstance(exc, boto.HTTPClientError):
        return UnreachableStorage(f"{where}: the connection failed while trying to {action}")
    import urllib3.exceptions

    if isinstance(exc, urllib3.exceptions.HTTPError):
        return UnreachableStorage(f"{where}: the connection was lost while trying to {action}")
    return exc
