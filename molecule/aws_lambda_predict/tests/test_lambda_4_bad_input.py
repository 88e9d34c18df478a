"""Bad settings stop the role before any AWS call, with a message naming the variable, and leave
the deployed function (in moto, the AWS stand-in) as it was."""

from __future__ import annotations

import pytest

from conftest import FUNCTION, run_converge


@pytest.mark.parametrize(
    ("bad", "named"),
    [
        # argument spec: a type
        ({"aws_lambda_predict_memory": "lots"}, "aws_lambda_predict_memory"),
        # validate.yml: a URL the function could not read
        ({"aws_lambda_predict_registry_url": "https://example.invalid/models"}, "aws_lambda_predict_registry_url must be s3://bucket/prefix"),
        ({"aws_lambda_predict_prices_object_url": "s3://bucket-only/"}, "aws_lambda_predict_prices_object_url s3://bucket/key.json"),
        # validate.yml: the zip on the controller
        ({"aws_lambda_predict_zip": "/nonexistent/predict.zip"}, "which is not a file"),
        ({"aws_lambda_predict_timeout": 60}, "aws_lambda_predict_timeout 1-29 s"),
        # validate.yml: the refresh's schedule (no '?' day field) and zip
        ({"aws_lambda_predict_refresh_schedule": "cron(30 22 * * MON-FRI *)"},
         "aws_lambda_predict_refresh_schedule must be an EventBridge schedule expression"),
        ({"aws_lambda_predict_refresh_zip": "/nonexistent/refresh.zip"}, "aws_lambda_predict_refresh_zip must name"),
    ],
)
def test_bad_setting_fails_before_any_api_call_and_changes_nothing(bad, named, lambda_):
    before = lambda_.get_function_configuration(FunctionName=FUNCTION)
    result = run_converge({**bad, "aws_lambda_predict_memory": bad.get("aws_lambda_predict_memory", 1024)})
    assert result.rc != 0
    assert named in " ".join(result.output.split())
    assert "Read the account id" not in result.output, "an AWS call was made"
    assert result.changed == 0
    after = lambda_.get_function_configuration(FunctionName=FUNCTION)
    assert (after["MemorySize"], after["CodeSha256"]) == (before["MemorySize"], before["CodeSha256"])
