"""stack_cdn_origin_only hands CloudFront's origin-verify secret from SSM to the nginx role (moto stands in for SSM).

A private moto server (scripts/moto.sh, a free 127.0.0.1 port) holds the SecureString role
aws_enhanced stores at <stack_parameter_path>/cdn/origin-verify. A throwaway inventory uses the
sandbox inventory's own group_vars/all (stack.yml, ec2.yml: moto's endpoint from MOTO_PORT) and the
repository's group_vars/web, as inventories/sandbox does; a probe play on a web host resolves
nginx_origin_verify_header and nginx_origin_verify_value the way configure.yml's nginx role would,
and writes down only the value's SHA-256 and length (no_log), so the secret never reaches the output.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import string
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from ansible_run import ANSIBLE_BIN, moto_client, moto_env
from moto_server import private_moto

REPO = Path(__file__).resolve().parent.parent
REGION = "eu-west-1"
STACK_ENV = "origintest"
PARAMETER = f"/stocksense/{STACK_ENV}/cdn/origin-verify"
SECRET = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(40))


@pytest.fixture(scope="module")
def moto_port():
    """moto with the stack's origin-verify SecureString, as aws_enhanced's secrets.yml leaves it."""
    with private_moto() as endpoint:
        port = endpoint.rsplit(":", 1)[1]
        moto_client(port, REGION, "ssm").put_parameter(Name=PARAMETER, Value=SECRET, Type="SecureString")
        yield port


@pytest.fixture(scope="module")
def inventory(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("origin-wiring")
    (root / "group_vars" / "all").mkdir(parents=True)
    for name in ("stack.yml", "ec2.yml"):
        (root / "group_vars" / "all" / name).symlink_to(REPO / "inventories" / "sandbox" / "group_vars" / "all" / name)
    (root / "group_vars" / "web").symlink_to(REPO / "group_vars" / "web")
    (root / "hosts.yml").write_text(yaml.safe_dump({"web": {"hosts": {"probe": {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable}}}}))
    (root / "probe.yml").write_text(yaml.safe_dump([{
        "name": "Resolve what the nginx role gets", "hosts": "web", "gather_facts": False,
        "tasks": [{
            "name": "Write down the header and the value's hash", "no_log": True,
            "ansible.builtin.copy": {"dest": "{{ out }}", "mode": "0600", "content": (
                "{{ {'header': nginx_origin_verify_header, 'length': nginx_origin_verify_value | length,"
                " 'sha256': nginx_origin_verify_value | hash('sha256')} | to_json }}")},
        }],
    }]))
    return root


def resolve(inventory: Path, moto_port: str, profile: str = "enhanced", **extra) -> tuple[dict | None, str]:
    """(header, value length and SHA-256 as a web host resolves them, or None when the run failed; the run's output)."""
    out = inventory / "resolved.json"
    out.unlink(missing_ok=True)
    cmd = [str(ANSIBLE_BIN / "ansible-playbook"), "-v", "-i", str(inventory / "hosts.yml"), str(inventory / "probe.yml"),
           "-e", json.dumps({**extra, "out": str(out)})]
    env = moto_env(moto_port, STACK_ENV, REGION, STOCKSENSE_PROFILE=profile)
    run = subprocess.run(cmd, cwd=inventory, env=env, capture_output=True, text=True, timeout=180, check=False)
    output = run.stdout + run.stderr
    assert SECRET not in output
    return (json.loads(out.read_text()) if run.returncode == 0 else None), output


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_both_inventories_leave_it_off():
    for inventory in ("aws", "sandbox"):
        stack = yaml.safe_load((REPO / "inventories" / inventory / "group_vars" / "all" / "stack.yml").read_text())
        assert stack["stack_cdn_origin_only"] is False, inventory


def test_off_by_default_nginx_gets_no_value(inventory, moto_port):
    resolved, output = resolve(inventory, moto_port)
    assert resolved is not None, output[-3000:]
    assert resolved["length"] == 0


def test_on_with_the_enhanced_profile_nginx_gets_the_ssm_secret(inventory, moto_port):
    resolved, output = resolve(inventory, moto_port, stack_cdn_origin_only=True)
    assert resolved is not None, output[-3000:]
    assert (resolved["length"], resolved["sha256"]) == (len(SECRET), sha256(SECRET))
    # The header CloudFront sends: aws_enhanced's own default, unless the inventory names another.
    aws_enhanced = yaml.safe_load((REPO / "roles" / "aws_enhanced" / "defaults" / "main.yml").read_text())
    assert resolved["header"] == aws_enhanced["aws_enhanced_cdn_verify_header"]
    renamed, output = resolve(inventory, moto_port, stack_cdn_origin_only=True, aws_enhanced_cdn_verify_header="X-Cdn-Secret")
    assert renamed is not None, output[-3000:]
    assert renamed["header"] == "X-Cdn-Secret"


def test_on_with_another_profile_nginx_gets_no_value(inventory, moto_port):
    resolved, output = resolve(inventory, moto_port, profile="single", stack_cdn_origin_only=True)
    assert resolved is not None, output[-3000:]
    assert resolved["length"] == 0


def test_on_without_the_parameter_the_run_stops(inventory, moto_port):
    """No silent fallback to an unchecked site: a stack whose secret is missing fails the run."""
    resolved, output = resolve(inventory, moto_port, stack_cdn_origin_only=True, ec2_env="nosuchstack")
    assert resolved is None
    assert "/stocksense/nosuchstack/cdn/origin-verify" in output, output[-3000:]
