"""Running the repository's Ansible from a test: the environment, and the PLAY RECAP read back.

Shared by the molecule scenarios' test helpers (molecule/conftest.py for every role scenario,
the conftests of the moto-backed ones: ec2, aws_enhanced, aws_lambda_predict); they put tests/ on
sys.path.
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# The ansible-* commands of the virtualenv running the tests, whatever PATH says.
ANSIBLE_BIN = Path(sys.executable).parent
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")
RECAP = re.compile(
    r"^(?P<host>\S+)\s*:\s*ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+unreachable=(?P<unreachable>\d+)\s+failed=(?P<failed>\d+)",
    re.MULTILINE,
)


def load_podman_connection():
    """The repository's podman connection plugin (connection_plugins/podman.py) as a module.

    Its ContainerNamespaces runs commands in a test instance the way the plugin does (nsenter):
    molecule/conftest.py routes testinfra's checks through it, tests/test_podman_connection.py tests it.
    """
    spec = importlib.util.spec_from_file_location("stocksense_podman_connection", REPO / "connection_plugins" / "podman.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def ansible_env(**extra: str) -> dict[str, str]:
    """The caller's environment with the repository's ansible.cfg and roles, and no colour codes."""
    env = dict(os.environ)
    env.update(
        ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
        ANSIBLE_ROLES_PATH=str(REPO / "roles"),
        ANSIBLE_NOCOLOR="1",
        # molecule exports ANSIBLE_FORCE_COLOR; colour codes would break the recap parsing.
        ANSIBLE_FORCE_COLOR="0",
    )
    env.update(extra)
    return env


def moto_env(moto_port: str, stack_env: str, region: str, **extra: str) -> dict[str, str]:
    """ansible_env for the repository's playbooks and inventories against moto on 127.0.0.1:moto_port.

    stack_env is the stack's Env tag, which both inventories filter on: the sandbox's reads it from
    SANDBOX_ENV, the aws one's from STOCKSENSE_ENV. The credentials are moto's dummy ones; extra
    adds to all this or overrides it.

    The runs use mitogen's strategy (the shim in strategy_plugins/, as make demo and the whole-stack
    scenario do): each amazon.aws task is a call into one Python process kept for the run instead of
    a new interpreter importing boto3 and the collection's module_utils again; the README's
    provision against moto took 40% less CPU (226 s vs 374 s). Scenarios' converge and idempotence
    stay on ansible.cfg's linear, so the roles are still shown converging as a user's run does.
    """
    env = ansible_env(
        ANSIBLE_STRATEGY="mitogen_linear",
        ANSIBLE_DEPRECATION_WARNINGS="false",
        MOTO_PORT=moto_port,
        SANDBOX_ENV=stack_env,
        STOCKSENSE_ENV=stack_env,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_SESSION_TOKEN="testing",
        AWS_DEFAULT_REGION=region,
    )
    env.update(extra)
    return env


@dataclass
class PlayResult:
    """Exit code and output (colour codes removed) of one ansible-playbook run.

    changed adds up the recap lines of `host`, or of every host when it is None.
    """

    rc: int
    output: str
    host: str | None = None

    def __post_init__(self) -> None:
        self.output = ANSI_ESCAPE.sub("", self.output)

    @property
    def changed(self) -> int:
        counts = [int(m["changed"]) for m in RECAP.finditer(self.output) if self.host in (None, m["host"])]
        assert counts, f"no play recap for {self.host or 'any host'} in output:\n{self.output[-3000:]}"
        return sum(counts)

    @property
    def failed(self) -> bool:
        return self.rc != 0


def moto_client(moto_port: str, region: str, service: str):
    """A boto3 client of moto on 127.0.0.1:moto_port, the AWS stand-in, with its dummy credentials.

    The tests read through it what the roles left in moto; iam/recorder does not record its calls.
    """
    import boto3  # only the moto-backed scenarios need it

    return boto3.client(service, endpoint_url=f"http://127.0.0.1:{moto_port}", region_name=region,
                        aws_access_key_id="testing", aws_secret_access_key="testing")
