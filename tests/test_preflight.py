"""site.yml's preflight stops bad input before any AWS API call, with a message naming the variable.

AWS itself is never reached: every run points botocore at a tripwire (AWS_ENDPOINT_URL), a
listener on 127.0.0.1 that counts connections. The input checks (admin CIDR, instance type, vault)
must fail with the tripwire untouched; a control run with valid input does reach it (and fails
there, the tripwire is not AWS), which shows the tripwire would catch an API call. The runs use a
copy of inventories/aws (so a test vault never lands in the shared tree) read through its
localhost.yml alone: the inventory folder's group_vars apply, and the aws_ec2 source, which asks
the API to list instances, is left out. The credentials case runs the whole copy, source included,
with no credentials at all, as a new user would.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from tripwire import Tripwire

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
VAULT_PASSWORD = "preflight-test-vault-password"
SECRET_KEY = "k" * 48
# Any argon2id-shaped value: the preflight checks the form, the app role only ships it.
ADMIN_HASH = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"
PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBxcSEyt+aUSbEHCbPOv3erjO7Ll2dPg3C7Ms0VpVpBa preflight-test"


def copy_aws_inventory(dest: Path) -> Path:
    """inventories/aws copied to dest/aws, its group_vars/web link pointing at the repository's."""
    inventory = dest / "aws"
    shutil.copytree(REPO / "inventories" / "aws", inventory, symlinks=True)
    (inventory / "group_vars" / "web").unlink()
    (inventory / "group_vars" / "web").symlink_to(REPO / "group_vars" / "web")
    (inventory / "group_vars" / "aws_web" / "vault.yml").unlink(missing_ok=True)
    return inventory


def write_vault(inventory: Path, text: str, encrypt: bool = True) -> None:
    vault = inventory / "group_vars" / "aws_web" / "vault.yml"
    vault.write_text(text)
    if encrypt:
        subprocess.run(
            [str(BIN / "ansible-vault"), "encrypt", "--vault-password-file", str(inventory.parent / "vault-pass"), str(vault)],
            check=True, capture_output=True, env=base_env(inventory.parent),
        )


def good_vault() -> str:
    return f"vault_app_secret_key: {SECRET_KEY}\nvault_app_admin_password_hash: '{ADMIN_HASH}'\n"


def base_env(home: Path) -> dict[str, str]:
    """No AWS_* or EC2_* from the caller's environment; HOME without ~/.aws."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "EC2_", "ANSIBLE_", "STOCKSENSE_"))}
    env.update(HOME=str(home), ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_DEPRECATION_WARNINGS="false")
    return env


def preflight(workdir: Path, wire: Tripwire, extra: list[str] = (), **env: str) -> subprocess.CompletedProcess:
    """site.yml --tags preflight on the copied aws inventory's localhost.yml, every AWS call to the tripwire."""
    inventory = workdir / "aws"
    run_env = base_env(workdir)
    run_env.update(
        AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="eu-west-1",
        AWS_ENDPOINT_URL=wire.url, AWS_MAX_ATTEMPTS="1",
        EC2_ADMIN_CIDR="198.51.100.7/32", EC2_PUBLIC_KEY_FILE=str(workdir / "key.pub"),
    )
    run_env.update(env)
    cmd = [str(BIN / "ansible-playbook"), "site.yml", "--tags", "preflight", "-i", str(inventory / "localhost.yml"),
           "--vault-password-file", str(workdir / "vault-pass"), *extra]
    return subprocess.run(cmd, cwd=REPO, env=run_env, capture_output=True, text=True, timeout=300, check=False)


def make_workdir(root: Path) -> Path:
    root.mkdir(parents=True)
    (root / "vault-pass").write_text(VAULT_PASSWORD + "\n")
    (root / "key.pub").write_text(PUBLIC_KEY + "\n")
    copy_aws_inventory(root)
    return root


# name: (how to break the input, extra ansible-playbook args, extra env, the message naming the variable)
CASES = {
    "admin-cidr-too-wide": (None, [], {"EC2_ADMIN_CIDR": "0.0.0.0/1"}, "ec2_admin_cidr 0.0.0.0/1 is wider than /16"),
    "admin-cidr-v6-too-wide": (None, [], {"EC2_ADMIN_CIDR": "2001:db8::/32"}, "ec2_admin_cidr 2001:db8::/32 is wider than /48"),
    "instance-type-unknown": (None, ["-e", "ec2_instance_type=m5.large"], {}, "ec2_instance_type 'm5.large' is not allowed"),
    "vault-missing": ("missing", [], {}, "The vault with the app's secrets is missing"),
    "vault-not-encrypted": ("plain", [], {}, "is not encrypted: run ansible-vault encrypt"),
    "vault-wrong-password": ("wrong-password", [], {}, "did not decrypt: give its password"),
    "vault-placeholders-left": ("example", [], {}, "app_secret_key must be at least 32 characters and not the example's placeholder"),
    "vault-secret-key-missing": ("no-secret-key", [], {}, "app_secret_key must be at least 32 characters"),
    # Controls: valid input (also a wide CIDR explicitly allowed) gets past every input check and
    # reaches the tripwire.
    "control-valid-input": (None, [], {}, None),
    "control-wide-cidr-allowed": (None, ["-e", "preflight_allow_wide_admin_cidr=true"], {"EC2_ADMIN_CIDR": "10.0.0.0/8"}, None),
}


def run_case(name: str, root: Path) -> tuple[subprocess.CompletedProcess, int]:
    vault, extra, env, _ = CASES[name]
    workdir = make_workdir(root / name)
    inventory = workdir / "aws"
    if vault is None:
        write_vault(inventory, good_vault())
    elif vault == "plain":
        write_vault(inventory, good_vault(), encrypt=False)
    elif vault == "wrong-password":
        write_vault(inventory, good_vault())
        (workdir / "vault-pass").write_text("not-the-password\n")
    elif vault == "example":
        write_vault(inventory, (inventory / "group_vars" / "aws_web" / "vault.yml.example").read_text())
    elif vault == "no-secret-key":
        write_vault(inventory, f"vault_app_admin_password_hash: '{ADMIN_HASH}'\n")
    wire = Tripwire()
    try:
        return preflight(workdir, wire, extra, **env), wire.connections
    finally:
        wire.close()


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    root = tmp_path_factory.mktemp("preflight")
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {name: pool.submit(run_case, name, root) for name in CASES}
        return {name: future.result() for name, future in futures.items()}


@pytest.mark.parametrize("case", [name for name, spec in CASES.items() if spec[3]])
def test_bad_input_fails_in_preflight_before_any_api_call(outcomes, case):
    result, connections = outcomes[case]
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert CASES[case][3] in output, output
    assert "Nothing was sent to AWS" in output, output
    assert connections == 0, f"an AWS API call was made before the input was rejected:\n{output}"


@pytest.mark.parametrize("case", ["control-valid-input", "control-wide-cidr-allowed"])
def test_valid_input_gets_past_the_input_checks_to_the_api(outcomes, case):
    """The tripwire does see API calls once the input is valid, so the checks above can fail."""
    result, connections = outcomes[case]
    output = result.stdout + result.stderr
    assert connections > 0, output
    assert result.returncode != 0, output  # the tripwire is not AWS
    assert "AWS did not accept the credentials (sts get-caller-identity" in output, output


def test_no_credentials_at_all_gives_the_preflight_message_not_a_boto_error(tmp_path):
    """Empty HOME, no AWS_* variables: the aws inventory (its aws_ec2 source included) must not fail
    first with boto's message; the preflight's credential message is the first error, and the run fails."""
    workdir = make_workdir(tmp_path / "no-credentials")
    env = base_env(workdir)  # no AWS_*, HOME without ~/.aws
    result = subprocess.run(
        [str(BIN / "ansible-playbook"), "site.yml", "-i", str(workdir / "aws")],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "Traceback" not in output, output
    assert "Failed to parse inventory" not in output and "Completely failed to parse" not in output, output
    errors = [line for line in output.splitlines() if line.startswith("[ERROR]")]
    assert errors, output
    assert "No AWS credentials found" in errors[0], output
    assert "stocksense.aws_ec2.yml could not ask AWS" in errors[0], output
    assert "PLAY [Preflight - the inventory could ask AWS]" in output, output


def test_any_other_inventory_error_still_fails_loudly(tmp_path):
    """The wrapper only softens missing or rejected credentials: an endpoint that refuses the
    connection (credentials present) fails the inventory before any play, as before."""
    workdir = make_workdir(tmp_path / "broken")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    env = base_env(workdir)
    env.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_ENDPOINT_URL=f"http://127.0.0.1:{closed_port}", AWS_MAX_ATTEMPTS="1")
    result = subprocess.run(
        [str(BIN / "ansible-playbook"), "site.yml", "--tags", "preflight", "-i", str(workdir / "aws")],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "Completely failed to parse inventory source" in output, output
    assert "PLAY [" not in output, output
