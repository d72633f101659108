"""Helpers shared by the boto3 test clients (imported from the scripts' own folder)."""
import botocore.exceptions


def expect_error(code, fn, **kwargs):
    """Calls fn(**kwargs) and checks that it fails with the AWS error code `code`."""
    try:
        fn(**kwargs)
    except botocore.exceptions.ClientError as e:
        got = e.response["Error"]["Code"]
        assert got == code, "expected %s, got %s: %s" % (code, got, e)
        return
    raise AssertionError("expected %s from %s" % (code, fn.__name__))
