"""The predict function's configuration in moto (the Lambda stand-in). moto stores the function
but never runs its code here, so these tests read settings only; the real zip's behaviour is
tested under CPython 3.12 by app/tests/test_lambda_predict.py.
"""

from __future__ import annotations

import base64
import hashlib
import zipfile

import pytest

from conftest import ACCOUNT, FUNCTION, PRICES_URL, REGION, REGISTRY_URL, REPO, STANDIN_ZIP


@pytest.fixture(scope="module")
def config(lambda_) -> dict:
    return lambda_.get_function_configuration(FunctionName=FUNCTION)


def test_moto_stores_the_function_with_the_python_312_runtime_and_handler(config):
    assert config["Runtime"] == "python3.12"
    assert config["Handler"] == "stocksense.lambda_predict.handler"
    assert config["Architectures"] == ["x86_64"]
    assert (config["MemorySize"], config["Timeout"]) == (512, 10)


def test_moto_stores_the_registry_and_prices_urls_in_the_environment(config):
    assert config["Environment"]["Variables"] == {
        "STOCKSENSE_REGISTRY": REGISTRY_URL,
        "STOCKSENSE_PRICES_OBJECT": PRICES_URL,
        "STOCKSENSE_PRICES_POLL_SECONDS": "300",
        "STOCKSENSE_PREDICT_MAX_AGE": "300",
    }


def test_function_runs_as_its_own_execution_role(config):
    assert config["Role"] == f"arn:aws:iam::{ACCOUNT}:role/{FUNCTION}"
    assert config["FunctionArn"] == f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{FUNCTION}"


def test_deployed_code_is_the_stand_in_zip_with_the_real_handler_module(config):
    """The handler path exists in the zip moto stored (by its SHA-256), and it is the app's module."""
    data = STANDIN_ZIP.read_bytes()
    assert config["CodeSha256"] == base64.b64encode(hashlib.sha256(data).digest()).decode()
    with zipfile.ZipFile(STANDIN_ZIP) as archive:
        module = archive.read("stocksense/lambda_predict.py")
    assert module == (REPO / "app" / "src" / "stocksense" / "lambda_predict.py").read_bytes()
    assert b"def handler(" in module
