"""The README's "On real AWS" commands, run in the order given, against moto (AWS cannot be reached here).

The ```sh blocks of that section are joined into one bash script (set -euo pipefail) and run in a
copy of the repository, with:
- AWS_ENDPOINT_URL pointing at a private moto server on a free 127.0.0.1 port (scripts/moto.sh):
  botocore, the amazon.aws modules and the aws_ec2 inventory all honour it;
- a temporary HOME: an ed25519 key pair already there (so `ssh-keygen` is not needed), ~/.aws
  with the README's profile holding moto's dummy keys, and the vault password file the README makes;
- an ssh-agent for `ssh-add`, STOCKSENSE_ADMIN_PASSWORD for `stocksense create-admin` (no terminal
  here), and an EDITOR that does what the README asks a person to do in `ansible-vault edit`:
  put a secret key and the admin hash in place of the placeholders.

Only what cannot run against moto is changed: `make X` runs as `make -n X` (the venvs exist; this
proves the targets), and each `ansible-playbook site.yml` gets `-e ec2_wait_for_ssh=false
--skip-tags configure,check`: moto's instance address is made up and must never be contacted, and
those two stages would connect to it (SSH is blocked outright as well: ProxyCommand=false, and the
test fails on any UNREACHABLE). The configure and check stages run for real on a systemd container
in the sandbox's default molecule scenario, which covers them.

The commands run under mitogen's strategy (ANSIBLE_STRATEGY=mitogen_linear, the shim in
strategy_plugins/, as make demo and the whole-stack scenario use it): each amazon.aws task becomes a
call into one Python process kept per run instead of a new interpreter importing boto3, which took
this test from 374 s to 226 s of CPU (wall 762 s at load 5-6 vs 648 s at load 8-9). The commands,
their order and their results are the same; ansible.cfg's default strategy (linear) is what the ec2
scenario's converge and idempotence run.

README_UNDER_TEST=<file> runs another README (to show that a broken one fails).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from moto_server import private_moto

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
README = Path(os.environ.get("README_UNDER_TEST", REPO / "README.md"))
SECTION = "## On real AWS"
PROFILE_KEYS = "aws_access_key_id = testing\naws_secret_access_key = testing\n"
ADMIN_PASSWORD = "readme-test-admin-password"
COPIED = ["site.yml", "ansible.cfg", "Makefile", "requirements-dev.txt", "requirements.yml", "playbooks", "roles",
          "inventories", "group_vars", "inventory_plugins", "scripts", "app/Makefile", "app/pyproject.toml", "app/constraints.txt"]

# The test's stand-in for a person in `ansible-vault edit`: real values for both placeholders.
FILL_VAULT = """#!/bin/sh
set -eu
key=$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')
hash=$(STOCKSENSE_ADMIN_PASSWORD="$STOCKSENSE_ADMIN_PASSWORD" "$REPO_COPY/app/.venv/bin/stocksense" create-admin \\
       | sed -n "s/^STOCKSENSE_ADMIN_PASSWORD_HASH=//p")
sed -i -e "s|^vault_app_secret_key:.*|vault_app_secret_key: $key|" \\
       -e "s|^vault_app_admin_password_hash:.*|vault_app_admin_password_hash: $hash|" "$1"
"""


def readme_commands(text: str) -> str:
    """The sh blocks of the README's real-AWS section, in order, joined."""
    start = text.index(SECTION + "\n")
    end = text.find("\n## ", start + len(SECTION))
    section = text[start:end if end != -1 else len(text)]
    blocks = re.findall(r"^```sh\n(.*?)^```$", section, flags=re.S | re.M)
    assert blocks, f"no sh block in the README's {SECTION!r} section"
    return "".join(blocks)


def for_moto(script: str) -> str:
    """The only changes: setup make steps dry-run, site.yml never waits for or connects to moto's fake
    address, and makes no AWS Backup plan (moto lacks part of that API)."""
    lines = []
    for line in script.splitlines():
        if re.match(r"^make\s", line):
            line = "make -n " + line[len("make "):]
        if "ansible-playbook site.yml" in line:
            command, hash_, comment = line.partition("#")
            # moto cannot play AWS Backup for the aws_monitoring role (no backup selection API; its
            # answer for a missing vault differs from AWS's): no snapshot plan, as in the sandbox.
            line = (command.rstrip() + " -e ec2_wait_for_ssh=false -e aws_monitoring_snapshots_enabled=false --skip-tags configure,check"
                    + (f"  #{comment}" if hash_ else ""))
        lines.append(line)
    return "\n".join(lines) + "\n"


def graph_group(graph: str, group: str) -> str:
    """The lines under |--@group: in ansible-inventory --graph output (its hosts and child groups)."""
    lines = graph.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == f"|--@{group}:")
    depth = lines[start].index("|--")
    body = []
    for line in lines[start + 1:]:
        if "|--" not in line or line.index("|--") <= depth:
            break
        body.append(line)
    return "\n".join(body)


def copy_repository(dest: Path) -> Path:
    for name in COPIED:
        source = REPO / name
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, symlinks=True, ignore=shutil.ignore_patterns("__pycache__", ".cache"))
        else:
            shutil.copy2(source, target)
    # What the README's steps make: never taken from the work tree.
    for made in ("vault.yml", "site.yml"):
        (dest / "inventories/aws/group_vars/aws_web" / made).unlink(missing_ok=True)
    (dest / ".venv").symlink_to(REPO / ".venv")
    (dest / "app" / ".venv").symlink_to(REPO / "app" / ".venv")
    return dest


def make_home(home: Path) -> None:
    (home / ".ssh").mkdir(parents=True, mode=0o700)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "readme-test", "-f", str(home / ".ssh" / "id_ed25519")], check=True)
    (home / ".aws").mkdir()
    (home / ".aws" / "credentials").write_text("[stocksense]\n" + PROFILE_KEYS)
    (home / ".aws" / "config").write_text("[profile stocksense]\nregion = eu-west-1\n")


@pytest.fixture
def moto():
    with private_moto() as endpoint:
        yield endpoint


@pytest.fixture
def ssh_agent():
    out = subprocess.run(["ssh-agent", "-s"], capture_output=True, text=True, check=True).stdout
    sock = re.search(r"SSH_AUTH_SOCK=([^;]+);", out).group(1)
    pid = re.search(r"SSH_AGENT_PID=(\d+);", out).group(1)
    try:
        yield {"SSH_AUTH_SOCK": sock, "SSH_AGENT_PID": pid}
    finally:
        subprocess.run(["kill", pid], check=False)


def test_readme_commands_run_in_order_against_moto(tmp_path, moto, ssh_agent):
    script = for_moto(readme_commands(README.read_text()))
    repo = copy_repository(tmp_path / "repo")
    home = tmp_path / "home"
    make_home(home)
    editor = tmp_path / "fill-vault"
    editor.write_text(FILL_VAULT)
    editor.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "EC2_", "ANSIBLE_", "STOCKSENSE_", "MOTO_"))}
    env.update(ssh_agent)
    env.update(
        HOME=str(home), PATH=f"{BIN}:{env['PATH']}", AWS_ENDPOINT_URL=moto, AWS_MAX_ATTEMPTS="2",
        EDITOR=str(editor), REPO_COPY=str(repo), STOCKSENSE_ADMIN_PASSWORD=ADMIN_PASSWORD,
        ANSIBLE_NOCOLOR="1", ANSIBLE_SSH_ARGS="-o ProxyCommand=false -o BatchMode=yes",
        # Speed only (see the docstring); the copy has no strategy_plugins/, the repository's shim is used.
        ANSIBLE_STRATEGY="mitogen_linear", ANSIBLE_STRATEGY_PLUGINS=str(REPO / "strategy_plugins"),
    )
    (tmp_path / "readme.sh").write_text("set -euo pipefail\nset -x\n" + script)
    result = subprocess.run(["bash", str(tmp_path / "readme.sh")], cwd=repo, env=env, capture_output=True, text=True, timeout=1800, check=False)
    output = result.stdout + result.stderr
    (tmp_path / "output.log").write_text(output)
    assert result.returncode == 0, output[-6000:]
    assert "UNREACHABLE" not in output and not re.search(r"unreachable=[1-9]", output), "something tried to connect to moto's fake address"

    # The vault the README made is encrypted and holds no placeholder (preflight passed with it).
    vault = repo / "inventories/aws/group_vars/aws_web/vault.yml"
    assert vault.read_text().startswith("$ANSIBLE_VAULT;")
    assert output.count("PLAY [Preflight - the ec2 settings and AWS]") >= 3, "preflight did not run with each site.yml command"
    flat = " ".join(output.split())  # the yaml callback wraps long messages
    assert re.search(r"AWS account 123456789012 \(\S+\), region eu-west-1 via " + re.escape(moto), flat), output[-3000:]
    # Provision printed the Elastic IP; the inventory then listed the host in web; power stopped and started it.
    assert re.search(r"with Elastic IP \d+\.\d+\.\d+\.\d+", flat), output[-3000:]
    assert "stocksense-prod-web" in graph_group(result.stdout, "web"), result.stdout[-3000:]
    assert "is stopped." in flat and "answers on its Elastic IP" in flat

    # Teardown left nothing in moto.
    ec2 = boto3.client("ec2", endpoint_url=moto, region_name="eu-west-1", aws_access_key_id="testing", aws_secret_access_key="testing")
    live = [i for r in ec2.describe_instances(Filters=[{"Name": "tag:Project", "Values": ["stocksense"]}])["Reservations"]
            for i in r["Instances"] if i["State"]["Name"] != "terminated"]
    assert live == []
    assert ec2.describe_addresses()["Addresses"] == []
