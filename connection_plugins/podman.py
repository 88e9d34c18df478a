"""containers.podman.podman with pipelining, and commands run by entering the container's namespaces.

The test instances (molecule's and the sandbox's) are podman containers, and the collection's
plugin runs every module in four podman processes: `podman mount` when the task connects, then
exec mkdir of a temporary folder, copy, exec python, exec rm. Each costs 0.15-0.25 s of CPU, which on
this 2-core machine was most of a task's time. Here modules go on the stdin of a single command
(Ansible's pipelining, as over SSH), and files are streamed through one as well.

That command is `nsenter` into the running container (ContainerNamespaces below) when this process
is root in the container's user namespace (rootful podman, as here), else `podman exec -i`.
`podman exec` starts a Go binary, conmon and the OCI runtime: 0.14 s of wall time and 0.07 s of
CPU for `true`, against 3 ms for nsenter. The testinfra suites enter the same way
(molecule/conftest.py). 30 `stat` tasks: 29 s with the collection's plugin, 12 s pipelined over
podman exec.

The plugin keeps the collection's name, `podman`, because that is what molecule's podman driver
writes into its inventory (`ansible_connection: podman`): Ansible picks a plugin from
connection_plugins/ (ansible.cfg, .config/molecule/config.yml) before the collection's redirect.
Real instances are reached over SSH and never use it.

Modules also keep their compiled bytecode in the instance (`with_bytecode_cache` below): Python
never caches what it imports from AnsiballZ's zip, so every task compiled ansible.module_utils
again. STOCKSENSE_BYTECODE_CACHE=off turns that off.
"""

from __future__ import annotations

import inspect
import json
import os
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path

import yaml
from ansible.errors import AnsibleError
from ansible.module_utils.common.text.converters import to_bytes, to_native
from ansible.plugins.connection import ConnectionBase, ensure_connect
from ansible_collections.containers.podman.plugins.connection import podman as collection

_DOC = yaml.safe_load(collection.DOCUMENTATION)
_DOC["name"] = "podman"
_DOC["short_description"] = "podman with pipelining and nsenter (extends containers.podman.podman)"
_DOC["options"]["pipelining"] = {
    "description": ["Send each module on the stdin of one command in the container."],
    "type": "boolean",
    "default": True,
    "env": [{"name": "ANSIBLE_PIPELINING"}],
    "ini": [{"section": "connection", "key": "pipelining"}],
    "vars": [{"name": "ansible_pipelining"}],
}
DOCUMENTATION = yaml.safe_dump(_DOC)

# Environment variables podman adds per container, which `podman exec` does not pass on.
_EXEC_SKIPS_ENV = ("HOSTNAME=", "container_uuid=")


class ContainerNamespaces:
    """The command line that runs a program in a running container the way `podman exec` would.

    It enters the container's mount, UTS, IPC, network, PID and cgroup namespaces, root and working
    directory (nsenter), limits the capability bounding set to the container's (setpriv, from the
    container's own util-linux) and starts from the container's environment (env -i). What it does
    not copy: the command stays in the caller's cgroup and has no seccomp filter. Enough to configure
    and check a throwaway test instance; not a security boundary.

    The container's PID, capabilities and environment come from one `podman inspect` and are kept
    in a small cache (one JSON file per container, in a root-only folder under the temporary
    directory), because Ansible starts a new process for every task. An entry is used only while
    the PID still has the recorded start time and mount namespace, so a container recreated under
    the same name (new PID) is inspected again. command() returns None (the caller falls back to
    podman exec) when this process is not root in the container's user namespace, when nsenter is
    missing, or when STOCKSENSE_PODMAN_EXEC=podman.
    """

    def __init__(self, container: str, podman: str = "podman", cache_dir: Path | None = None):
        self.container = container
        self.podman = podman
        self.cache_dir = cache_dir or Path(tempfile.gettempdir()) / f"stocksense-nsenter-{os.geteuid()}"

    def command(self, argv: list[str]) -> list[str] | None:
        """argv run inside the container, or None when only podman exec can run it."""
        if not self._usable():
            return None
        target = self._cached() or self._inspect()
        if target is None:
            return None
        return [
            "nsenter", f"--target={target['pid']}", "--mount", "--uts", "--ipc", "--net", "--pid",
            "--cgroup", "--root", "--wd", "--",
            "/usr/bin/setpriv", f"--bounding-set=-all,{target['caps']}" if target["caps"] else "--bounding-set=-all", "--",
            "/usr/bin/env", "-i", *target["env"], *argv,
        ]

    def _usable(self) -> bool:
        if os.environ.get("STOCKSENSE_PODMAN_EXEC", "nsenter") == "podman" or os.geteuid() != 0:
            return False
        return shutil.which("nsenter") is not None

    def _entry_path(self) -> Path:
        return self.cache_dir / f"{self.container.replace('/', '_')}.json"

    def _cached(self) -> dict | None:
        try:
            target = json.loads(self._entry_path().read_text())
        except (OSError, ValueError):
            return None
        current = _identity(target["pid"])
        if current != target["identity"] or _same_mount_namespace(target["pid"]):
            return None
        return target

    def _inspect(self) -> dict | None:
        proc = subprocess.run(
            [self.podman, "inspect", "--type", "container", "--format", "{{json .}}", self.container],
            capture_output=True, text=True, check=False,
        )
        if proc.returncode != 0:
            return None
        info = json.loads(proc.stdout)
        info = info[0] if isinstance(info, list) else info
        pid = info["State"]["Pid"]
        identity = _identity(pid) if info["State"]["Running"] and pid else None
        if identity is None or not _same_user_namespace(pid) or _same_mount_namespace(pid):
            return None
        target = {
            "pid": pid,
            "identity": identity,
            "caps": ",".join("+" + c.lower().removeprefix("cap_") for c in info.get("EffectiveCaps") or []),
            "env": [e for e in info["Config"].get("Env") or [] if not e.startswith(_EXEC_SKIPS_ENV)],
        }
        self._store(target)
        return target

    def _store(self, target: dict) -> None:
        try:
            self.cache_dir.mkdir(mode=0o700, exist_ok=True)
            with tempfile.NamedTemporaryFile("w", dir=self.cache_dir, delete=False) as tmp:
                json.dump(target, tmp)
            os.replace(tmp.name, self._entry_path())
        except OSError:
            pass  # no cache: the next command inspects again


def _identity(pid: int) -> list | None:
    """The process's start time and mount namespace: both change when a container is recreated."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        mount_ns = os.stat(f"/proc/{pid}/ns/mnt").st_ino
    except OSError:
        return None
    return [stat.rsplit(")", 1)[1].split()[19], mount_ns]


def _same_user_namespace(pid: int) -> bool:
    return os.stat(f"/proc/{pid}/ns/user").st_ino == os.stat("/proc/self/ns/user").st_ino


def _same_mount_namespace(pid: int) -> bool:
    # Never "enter" the host itself (a PID that is not a container's).
    return os.stat(f"/proc/{pid}/ns/mnt").st_ino == os.stat("/proc/self/ns/mnt").st_ino


# --- bytecode cache for modules ---------------------------------------------------------------
# AnsiballZ sends each module with the module_utils it imports in a zip, and Python does not cache
# the bytecode of modules imported from a zip: every task compiled ansible.module_utils.basic and
# the rest again. In a trixie instance, 40 stat, apt and systemd tasks took 0.32-0.34 s of instance
# CPU each, 0.17-0.18 s with the cache; molecule nginx's idempotence step (2 instances, 58 module
# runs) 26-34 CPU-s, 22-23 with it. The bootstrap below goes into the module's own source, after
# its future import: in the instance it puts an import finder first that serves the archive's
# ansible.* and ansible_collections.* modules, and keeps their code objects in a root-only folder
# keyed by Python's version, the member's name and its source (SHA-256): what runs is exactly the
# source that came with the task, compiled once.

BYTECODE_CACHE_DIR = "/run/stocksense-ansiballz-bytecode"
_ANSIBALLZ_MARK = b"_ANSIBALLZ_WRAPPER = True"
_FUTURE_IMPORT = b"from __future__ import annotations\n"


def cache_ansiballz_bytecode(cache_dir):
    """Runs in the instance, in the module's interpreter, before the AnsiballZ wrapper's main."""
    import hashlib
    import marshal
    import os
    import stat
    import sys
    import zipfile
    from importlib.machinery import ModuleSpec

    if os.geteuid() != 0:
        return  # only root's modules: the folder is root's alone
    try:
        os.mkdir(cache_dir, 0o700)
    except FileExistsError:
        pass
    except OSError:
        return
    info = os.lstat(cache_dir)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != 0 or info.st_mode & 0o077:
        return
    version = f"{sys.implementation.cache_tag} {sys.hexversion}".encode()

    def renamed(code, filename):
        consts = tuple(renamed(c, filename) if isinstance(c, type(code)) else c for c in code.co_consts)
        return code.replace(co_filename=filename, co_consts=consts)

    class ArchiveLoader:
        def __init__(self, archive, member, package):
            self.archive, self.member, self.package = archive, member, package
            self.path = f"{archive.filename}/{member}"

        def create_module(self, spec):
            return None

        def exec_module(self, module):
            exec(self.get_code(module.__name__), module.__dict__)  # noqa: S102 (what any loader does)

        def is_package(self, fullname):
            return self.package

        def get_filename(self, fullname):
            return self.path

        def get_source(self, fullname):
            from importlib.util import decode_source
            return decode_source(self.archive.read(self.member))

        def get_code(self, fullname):
            source = self.archive.read(self.member)
            key = hashlib.sha256(version + b"\0" + self.member.encode() + b"\0" + source).hexdigest()
            entry = os.path.join(cache_dir, key)
            try:
                with open(entry, "rb") as cached:
                    # Compiled under another temporary archive path: name this one, as zipimport would.
                    return renamed(marshal.loads(cached.read()), self.path)
            except (OSError, EOFError, ValueError, TypeError):
                pass
            code = compile(source, self.path, "exec", dont_inherit=True)
            partial = f"{entry}.{os.getpid()}"
            try:
                with open(partial, "wb") as out:
                    out.write(marshal.dumps(code))
                os.replace(partial, entry)
            except OSError:
                pass
            return code

    class ArchiveFinder:
        def __init__(self):
            self.archives = {}

        def find_spec(self, fullname, path=None, target=None):
            if fullname.partition(".")[0] not in ("ansible", "ansible_collections"):
                return None
            archive = self._archive()
            if archive is None:
                return None
            base = fullname.replace(".", "/")
            for member, package in ((f"{base}/__init__.py", True), (f"{base}.py", False)):
                if member in archive.members:
                    loader = ArchiveLoader(archive, member, package)
                    spec = ModuleSpec(fullname, loader, origin=loader.path, is_package=package)
                    spec.has_location = True
                    if package:
                        spec.submodule_search_locations = [f"{archive.filename}/{base}"]
                    return spec
            return None  # namespace packages and anything else: zipimport and the path, as before

        def _archive(self):
            path = next((p for p in sys.path if p.endswith("_payload.zip")), None)
            if path is None:
                return None
            if path not in self.archives:
                try:
                    archive = zipfile.ZipFile(path)
                except (OSError, zipfile.BadZipFile):
                    return None
                archive.members = frozenset(archive.namelist())
                self.archives[path] = archive
            return self.archives[path]

    sys.meta_path.insert(0, ArchiveFinder())


_BOOTSTRAP = (
    inspect.getsource(cache_ansiballz_bytecode)
    + f"\ncache_ansiballz_bytecode({BYTECODE_CACHE_DIR!r})\ndel cache_ansiballz_bytecode\n"
).encode()


def with_bytecode_cache(in_data: bytes | None) -> bytes | None:
    """A pipelined AnsiballZ module with the bootstrap after its future import; anything else as is."""
    if not in_data or os.environ.get("STOCKSENSE_BYTECODE_CACHE", "on") == "off":
        return in_data
    head = in_data[:4096]
    at = head.find(_FUTURE_IMPORT)
    if at < 0 or _ANSIBALLZ_MARK not in head:
        return in_data
    at += len(_FUTURE_IMPORT)
    return in_data[:at] + _BOOTSTRAP + in_data[at:]


class Connection(collection.Connection):
    transport = "podman"
    has_pipelining = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._mount_tried = False
        self._namespaces = ContainerNamespaces(self._container_id, self.get_option("podman_executable"))

    def _connect(self):
        # Connect without mounting: most tasks copy no file, and nsenter copies without a mount.
        ConnectionBase._connect(self)
        self._connected = True
        return self

    def _mount_once(self):
        if not self._mount_tried:
            self._mount_tried = True
            super()._connect()

    def _in_container(self, argv: list[str]) -> list[str] | None:
        # nsenter runs as root; another remote_user goes through podman exec --user.
        return None if self.user else self._namespaces.command(argv)

    @ensure_connect
    def exec_command(self, cmd, in_data=None, sudoable=False):
        ConnectionBase.exec_command(self, cmd, in_data=in_data, sudoable=sudoable)
        in_data = with_bytecode_cache(in_data)
        argv = shlex.split(to_native(cmd, errors="surrogate_or_strict"))
        entered = self._in_container(argv)
        if entered is not None:
            return _run(entered, in_data)
        args = ["exec", "-i"] if in_data is not None else ["exec"]
        if self.user:
            args.extend(("--user", self.user))
        return self._podman(args, argv, in_data)

    def put_file(self, in_path, out_path):
        entered = self._in_container(["sh", "-c", 'cat > "$1"', "sh", out_path])
        if entered is None:
            self._mount_once()
            return super().put_file(in_path, out_path)
        ConnectionBase.put_file(self, in_path, out_path)
        with open(to_bytes(in_path, errors="surrogate_or_strict"), "rb") as source:
            rc, _, stderr = _run(entered, source.read())
        if rc != 0:
            raise AnsibleError(f"Failed to copy {in_path} to {out_path} in container {self._container_id}: {to_native(stderr)}")
        return None

    def fetch_file(self, in_path, out_path):
        entered = self._in_container(["cat", in_path])
        if entered is None:
            self._mount_once()
            return super().fetch_file(in_path, out_path)
        ConnectionBase.fetch_file(self, in_path, out_path)
        rc, stdout, stderr = _run(entered, None)
        if rc != 0:
            raise AnsibleError(f"Failed to fetch {in_path} from container {self._container_id}: {to_native(stderr)}")
        with open(to_bytes(out_path, errors="surrogate_or_strict"), "wb") as target:
            target.write(stdout)
        return None


def _run(argv: list[str], in_data: bytes | None) -> tuple[int, bytes, bytes]:
    # No input: stdin closed, as podman exec without -i gives it.
    stdin = subprocess.DEVNULL if in_data is None else None
    proc = subprocess.run(argv, input=in_data, stdin=stdin, capture_output=True, check=False)
    return proc.returncode, proc.stdout, proc.stderr
