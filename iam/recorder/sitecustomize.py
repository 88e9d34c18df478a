"""Test aid: record every AWS API operation Ansible makes, for the IAM policy completeness test.

Python imports this module at start-up when iam/recorder is on PYTHONPATH. It does nothing unless
STOCKSENSE_AWS_API_LOG names a file: then it registers a botocore "before-call" handler on every
botocore session of the process and appends one "<iam prefix>:<Operation>" line per call.

Only Ansible's own processes record (ansible-playbook, ansible-inventory and the modules they
start, which run from an AnsiballZ payload zip): a test's own boto3 calls (its checks against moto) are not
what the operator's policy has to allow.

Why botocore hooks rather than moto's request recorder: the hook sees the operation by its API
name in the process that makes it, so it can tell Ansible's calls from the tests', and it works
whatever the endpoint.
"""

from __future__ import annotations

import os
import sys

LOG = os.environ.get("STOCKSENSE_AWS_API_LOG", "")


def _is_ansible_process() -> bool:
    # A module runs from its AnsiballZ payload: argv[0] is the module's path inside the zip.
    # Under mitogen's strategy it runs inside a mitogen child process instead (argv[0] "-c"), which
    # has mitogen's core loaded; a test's own process never has.
    path = sys.argv[0] if sys.argv and sys.argv[0] else ""
    return (os.path.basename(path).startswith(("ansible", "AnsiballZ_")) or "_payload.zip/" in path
            or "mitogen.core" in sys.modules)


def _record(model=None, **_kwargs) -> None:
    if model is None or not _is_ansible_process():
        return
    service = model.service_model
    # The IAM action prefix is the service's signing name (ec2, iam, sts, logs, s3, ...).
    prefix = service.signing_name or service.endpoint_prefix
    line = f"{prefix}:{model.name}\n"
    # One short append per call: O_APPEND keeps concurrent writers' lines whole.
    fd = os.open(LOG, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def _install() -> None:
    try:
        import botocore.session
    except ImportError:  # an interpreter without botocore makes no AWS call
        return
    original_init = botocore.session.Session.__init__

    def init_and_register(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        self.register("before-call", _record)

    botocore.session.Session.__init__ = init_and_register


if LOG:
    _install()
