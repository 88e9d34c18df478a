"""The values several roles must agree on are set once in group_vars/web/ and handed to each role.

Each test reads the variables a web host gets from the inventories' group_vars (a throwaway inventory
whose group_vars/web links to the repository's, as inventories/aws and inventories/sandbox do), the
way ansible-playbook resolves them, and checks every link: change the one source and every role's
variable follows. A last test checks the roles' own defaults agree too, for plays without group_vars/web.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
from ansible_run import ANSIBLE_BIN, ansible_env  # noqa: E402

WIRED = [
    "app_listen_host", "app_listen_port", "app_install_dir", "app_proxy_cache_dir",
    "nginx_app_upstream", "nginx_static_dir", "nginx_acme_webroot", "nginx_server_name", "nginx_server_aliases",
    "nginx_letsencrypt_cert_name", "nginx_proxy_cache_dir", "nginx_access_log", "nginx_error_log",
    "certbot_webroot", "certbot_domains", "certbot_cert_name", "certbot_deploy_hook_log",
    "cloudwatch_agent_region", "cloudwatch_agent_log_files", "ec2_region", "baseline_logrotate_files",
]
INVENTORY_REGION = "ap-southeast-2"
# A role default the group_vars build on (cloudwatch_agent_log_files names its log groups with it).
ROLE_DEFAULTS = {"cloudwatch_agent_log_group_prefix": "/stocksense"}


@pytest.fixture(scope="module")
def inventory(tmp_path_factory) -> Path:
    """A web host with the repository's group_vars/web and an ec2_region of its own, like the real inventories."""
    root = tmp_path_factory.mktemp("wiring")
    (root / "group_vars" / "all").mkdir(parents=True)
    (root / "group_vars" / "web").symlink_to(REPO / "group_vars" / "web")
    (root / "group_vars" / "all" / "ec2.yml").write_text(yaml.safe_dump({"ec2_region": INVENTORY_REGION}))
    (root / "hosts.yml").write_text(yaml.safe_dump({"web": {"hosts": {"probe": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}}}}))
    (root / "probe.yml").write_text(yaml.safe_dump([{
        "name": "Print the wired variables", "hosts": "web", "gather_facts": False,
        "tasks": [{"name": "Write them out", "ansible.builtin.copy": {"content": "{{ wired | to_json }}", "dest": "{{ out }}", "mode": "0600"},
                   "vars": {"wired": {name: "{{ " + name + " }}" for name in WIRED}}}],
    }]))
    return root


def host_vars(inventory: Path, **extra) -> dict:
    """The wired variables of the probe host, with these extra vars on the command line."""
    out = inventory / "wired.json"
    out.unlink(missing_ok=True)
    cmd = [str(ANSIBLE_BIN / "ansible-playbook"), "-i", str(inventory / "hosts.yml"), str(inventory / "probe.yml"),
           "-e", json.dumps({**ROLE_DEFAULTS, **extra, "out": str(out)})]
    run = subprocess.run(cmd, cwd=inventory, env=ansible_env(), capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return json.loads(out.read_text())


def assert_wired(v: dict) -> None:
    assert v["nginx_app_upstream"] == f"{v['app_listen_host']}:{v['app_listen_port']}"
    assert v["nginx_static_dir"] == f"{v['app_install_dir']}/current/static"
    assert v["app_proxy_cache_dir"] == v["nginx_proxy_cache_dir"]
    assert v["certbot_webroot"] == v["nginx_acme_webroot"]
    assert v["certbot_domains"] == [v["nginx_server_name"], *v["nginx_server_aliases"]]
    assert v["certbot_cert_name"] == v["nginx_letsencrypt_cert_name"]
    assert v["cloudwatch_agent_region"] == v["ec2_region"]
    assert [f["file_path"] for f in v["cloudwatch_agent_log_files"]] == [v["nginx_access_log"], v["nginx_error_log"]]
    assert [f["path"] for f in v["baseline_logrotate_files"]] == [v["certbot_deploy_hook_log"]]


def test_group_vars_hand_each_shared_value_to_every_role(inventory):
    wired = host_vars(inventory)
    assert_wired(wired)
    assert wired["ec2_region"] == INVENTORY_REGION
    assert wired["nginx_app_upstream"] == "127.0.0.1:5005"


def test_changing_the_one_source_moves_every_role(inventory):
    changed = {
        "app_listen_port": 5123, "app_install_dir": "/srv/stocksense", "nginx_acme_webroot": "/srv/acme",
        "nginx_server_name": "shop.example.org", "nginx_server_aliases": ["www.shop.example.org"],
        "nginx_proxy_cache_dir": "/srv/cache", "nginx_access_log": "/srv/log/access.log",
        "nginx_error_log": "/srv/log/error.log", "certbot_deploy_hook_log": "/srv/log/hook.log",
        "ec2_region": "eu-north-1",
    }
    wired = host_vars(inventory, **changed)
    assert_wired(wired)
    assert wired["nginx_app_upstream"] == "127.0.0.1:5123"
    assert wired["certbot_webroot"] == "/srv/acme"
    assert wired["certbot_cert_name"] == "shop.example.org"
    assert wired["cloudwatch_agent_region"] == "eu-north-1"


def role_defaults(role: str) -> dict:
    return yaml.safe_load((REPO / "roles" / role / "defaults" / "main.yml").read_text())


def test_the_roles_own_defaults_agree_too():
    """A play using the roles without group_vars/web gets the same wiring from the defaults alone."""
    app, nginx, certbot, agent = (role_defaults(r) for r in ("app", "nginx", "certbot", "cloudwatch_agent"))
    assert nginx["nginx_app_upstream"] == f"{app['app_listen_host']}:{app['app_listen_port']}"
    assert nginx["nginx_static_dir"] == f"{app['app_install_dir']}/current/static"
    assert app["app_proxy_cache_dir"] == nginx["nginx_proxy_cache_dir"]
    assert certbot["certbot_webroot"] == nginx["nginx_acme_webroot"]
    assert [f["file_path"] for f in agent["cloudwatch_agent_log_files"]] == [nginx["nginx_access_log"], nginx["nginx_error_log"]]
