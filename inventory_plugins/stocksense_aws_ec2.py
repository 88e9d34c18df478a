"""amazon.aws.aws_ec2, except that missing or rejected AWS credentials do not stop the run.

Without this wrapper the aws_ec2 inventory fails with a boto message ("Unable to locate
credentials") before any play runs, so site.yml's preflight never gets to say what is wrong and
how to fix it. Here, when the EC2 API cannot be asked because the credentials are missing or AWS
rejects them, the source yields no hosts and sets ``preflight_inventory_error`` on the ``all``
group; playbooks/preflight.yml (the first stage of site.yml) fails with that message, and
playbooks/configure.yml and check.yml refuse to run on an empty inventory because of it. Every
other error of the real plugin (a bad filter, an unknown region, a network failure, throttling,
a typo in the file) is raised unchanged, so a broken inventory still fails loudly
(ansible.cfg: unparsed_is_failed).

The source files keep ``plugin: amazon.aws.aws_ec2`` and are parsed by that plugin, unchanged;
ansible.cfg enables this wrapper in its place, so with another ansible.cfg (molecule's, or none)
the files still work with the stock plugin.
"""

from __future__ import annotations

from ansible.errors import AnsibleError
from ansible.plugins.inventory import BaseInventoryPlugin
from ansible.plugins.loader import inventory_loader

try:
    from botocore.exceptions import ClientError, NoCredentialsError
except ImportError:  # the wrapped plugin reports a missing boto3/botocore itself
    ClientError = NoCredentialsError = ()

DOCUMENTATION = r"""
name: stocksense_aws_ec2
short_description: amazon.aws.aws_ec2 that reports missing AWS credentials to the preflight
description:
  - Parses C(*.aws_ec2.yml) files written for amazon.aws.aws_ec2 with that plugin.
  - When the credentials are missing or rejected, adds no hosts and sets C(preflight_inventory_error)
    on the C(all) group instead of failing; any other error fails as before.
"""

WRAPPED = "amazon.aws.aws_ec2"
ERROR_VARIABLE = "preflight_inventory_error"
# Error codes with which AWS rejects the credentials themselves (not a permission or a request).
REJECTED_CREDENTIALS = {
    "AuthFailure",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "RequestExpired",
}
HOW_TO_SET = (
    "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), or create ~/.aws/credentials "
    "(aws configure)"
)


def credentials_problem(error: BaseException) -> str | None:
    """The message for a credentials failure somewhere in the error's chain, else None."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if NoCredentialsError and isinstance(current, NoCredentialsError):
            return f"No AWS credentials found: {HOW_TO_SET}."
        if ClientError and isinstance(current, ClientError):
            code = current.response.get("Error", {}).get("Code", "")
            if code in REJECTED_CREDENTIALS:
                return f"AWS rejected the credentials ({code}: {current}): {HOW_TO_SET} with valid keys."
        current = current.__cause__ or current.__context__
    return None


class InventoryModule(BaseInventoryPlugin):
    NAME = "stocksense_aws_ec2"

    def verify_file(self, path):
        return self._wrapped().verify_file(path)

    def parse(self, inventory, loader, path, cache=True):
        plugin = self._wrapped()
        try:
            plugin.parse(inventory, loader, path, cache=cache)
        except AnsibleError as error:
            message = credentials_problem(error)
            if message is None:
                raise
            self.display.warning(f"{path}: {message} The inventory has no EC2 hosts; site.yml's preflight stops the run.")
            inventory.set_variable("all", ERROR_VARIABLE, f"The EC2 inventory {path} could not ask AWS. {message}")
            return
        try:
            plugin.update_cache_if_changed()
        except AttributeError:
            pass

    @staticmethod
    def _wrapped():
        plugin = inventory_loader.get(WRAPPED)
        if plugin is None:
            raise AnsibleError(f"the {WRAPPED} inventory plugin is missing: install the amazon.aws collection (requirements.yml)")
        return plugin
