"""containers.podman.podman with pipelining: one `podman exec -i` per module instead of four.

The test instances (molecule's and the sandbox's) are podman containers, and the collection's
plugin runs every module in four podman processes: `podman mount` when the task connects, then
exec mkdir of a temporary folder, copy, exec python, exec rm. Each costs 0.15-0.25 s of CPU, which on
this 2-core machine was most of a task's time. Here modules go on the stdin of a single
`podman exec -i ... python3` (Ansible's pipelining, as over SSH), and the container is mounted only
when a file is really copied (template, copy). 30 `stat` tasks: 29 s -> 12 s.

The collection disables pipelining because `podman exec` without `-i` drops stdin; with `-i` it
passes it and closes it at EOF. The plugin keeps the collection's name, `podman`, because that is
what molecule's podman driver writes into its inventory (`ansible_connection: podman`): Ansible
picks a plugin from connection_plugins/ (ansible.cfg, .config/molecule/config.yml) before the
collection's redirect. Real instances are reached over SSH and never use it.
"""

from __future__ import annotations

import shlex

import yaml
from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.connection import ConnectionBase, ensure_connect
from ansible_collections.containers.podman.plugins.connection import podman as collection

_DOC = yaml.safe_load(collection.DOCUMENTATION)
_DOC["name"] = "podman"
_DOC["short_description"] = "podman exec with pipelining (extends containers.podman.podman)"
_DOC["options"]["pipelining"] = {
    "description": ["Send each module on the stdin of one podman exec."],
    "type": "boolean",
    "default": True,
    "env": [{"name": "ANSIBLE_PIPELINING"}],
    "ini": [{"section": "connection", "key": "pipelining"}],
    "vars": [{"name": "ansible_pipelining"}],
}
DOCUMENTATION = yaml.safe_dump(_DOC)


class Connection(collection.Connection):
    transport = "podman"
    has_pipelining = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._mount_tried = False

    def _connect(self):
        # Connect without mounting: most tasks copy no file.
        ConnectionBase._connect(self)
        self._connected = True
        return self

    def _mount_once(self):
        if not self._mount_tried:
            self._mount_tried = True
            super()._connect()

    @ensure_connect
    def exec_command(self, cmd, in_data=None, sudoable=False):
        ConnectionBase.exec_command(self, cmd, in_data=in_data, sudoable=sudoable)
        args = ["exec", "-i"] if in_data is not None else ["exec"]
        if self.user:
            args.extend(("--user", self.user))
        return self._podman(args, shlex.split(to_native(cmd, errors="surrogate_or_strict")), in_data)

    def put_file(self, in_path, out_path):
        self._mount_once()
        super().put_file(in_path, out_path)

    def fetch_file(self, in_path, out_path):
        self._mount_once()
        super().fetch_file(in_path, out_path)
