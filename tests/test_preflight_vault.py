"""The real-AWS vault lives in the aws inventory only, and that inventory maps it to the app role.

The two inventories and the shared group_vars/web are copied to a temporary folder with their
relative links, and a static host stands in for the EC2 instance each aws_ec2 source would find
(in aws_web, or sandbox_web), so no AWS stand-in is needed. An encrypted vault.yml in
inventories/aws/group_vars/aws_web/ must not stop the sandbox inventory (it used to sit in the
shared group_vars/web, where `make demo` then failed with "no vault secrets found"); the control
puts the same file back there and shows the sandbox failing, so the check can fail.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SECRET_KEY = "s" * 40
ADMIN_HASH = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"


def env_for(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ANSIBLE_"))}
    env.update(HOME=str(tmp), ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    return env


@pytest.fixture
def layout(tmp_path):
    """tmp/inventories/{aws,sandbox} and tmp/group_vars/web, a static web host in each inventory,
    and an encrypted vault in the aws inventory's aws_web folder."""
    for sub in ("inventories/aws", "inventories/sandbox", "group_vars"):
        shutil.copytree(REPO / sub, tmp_path / sub, symlinks=True)
    for inventory, group in (("aws", "aws_web"), ("sandbox", "sandbox_web")):
        folder = tmp_path / "inventories" / inventory
        for source in folder.glob("*.aws_ec2.yml"):
            source.unlink()
        (folder / "01-host.yml").write_text(yaml.safe_dump({group: {"hosts": {f"{inventory}-host": {"ansible_connection": "local"}}}}))
    (tmp_path / "inventories" / "aws" / "group_vars" / "aws_web" / "vault.yml").unlink(missing_ok=True)
    password = tmp_path / "vault-pass"
    password.write_text("vault-test-password\n")
    vault = tmp_path / "vault.yml"
    vault.write_text(f"vault_app_secret_key: {SECRET_KEY}\nvault_app_admin_password_hash: '{ADMIN_HASH}'\n")
    subprocess.run([str(BIN / "ansible-vault"), "encrypt", "--vault-password-file", str(password), str(vault)],
                   check=True, capture_output=True, env=env_for(tmp_path))
    shutil.copy(vault, tmp_path / "inventories" / "aws" / "group_vars" / "aws_web" / "vault.yml")
    return tmp_path


def host_vars(root: Path, inventory: str, host: str, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "ansible-inventory"), "-i", str(root / "inventories" / inventory), "--host", host, *extra],
        cwd=root, env=env_for(root), capture_output=True, text=True, timeout=120, check=False,
    )


def test_the_aws_vault_does_not_touch_the_sandbox_inventory(layout):
    result = host_vars(layout, "sandbox", "sandbox-host")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "vault_app_secret_key" not in result.stdout


def test_control_the_same_vault_in_the_shared_group_vars_breaks_the_sandbox(layout):
    shutil.copy(layout / "vault.yml", layout / "group_vars" / "web" / "vault.yml")
    result = host_vars(layout, "sandbox", "sandbox-host")
    assert result.returncode != 0
    assert "vault" in (result.stdout + result.stderr).lower()


def test_the_aws_inventory_maps_the_vault_to_the_app_role_variables(layout):
    """The mapping in aws_web/secrets.yml, rendered by Ansible with the vault decrypted."""
    result = subprocess.run(
        [str(BIN / "ansible"), "aws-host", "-i", str(layout / "inventories" / "aws"), "-m", "ansible.builtin.debug",
         "-a", "msg='KEY={{ app_secret_key }}_HASH={{ app_admin_password_hash }}'",
         "--vault-password-file", str(layout / "vault-pass")],
        cwd=layout, env=env_for(layout), capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"KEY={SECRET_KEY}_HASH={ADMIN_HASH}" in result.stdout, result.stdout


def test_without_the_vault_password_the_aws_inventory_says_so(layout):
    result = host_vars(layout, "aws", "aws-host")
    assert result.returncode != 0
    assert "no vault secrets" in (result.stdout + result.stderr).lower(), result.stdout + result.stderr


def test_the_example_vault_names_the_mapped_variables():
    example = yaml.safe_load((REPO / "inventories/aws/group_vars/aws_web/vault.yml.example").read_text())
    mapping = yaml.safe_load((REPO / "inventories/aws/group_vars/aws_web/secrets.yml").read_text())
    assert set(example) == {"vault_app_secret_key", "vault_app_admin_password_hash"}
    assert mapping == {
        "app_secret_key": "{{ vault_app_secret_key }}",
        "app_admin_password_hash": "{{ vault_app_admin_password_hash }}",
    }
    ignored = subprocess.run(["git", "check-ignore", "-q", "inventories/aws/group_vars/aws_web/vault.yml"], cwd=REPO, check=False)
    assert ignored.returncode == 0, "vault.yml must be git-ignored"
