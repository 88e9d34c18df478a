"""The baseline role's firewall and SSH, checked by what a client outside the instance sees.

The instance publishes its port 22 on 127.0.0.1:19022, 80 on 19080 and 8081 on 19081; a probe
(prepare.yml) listens on 80 and 8081 inside. The tests make their own SSH key in a temp dir.
"""

from __future__ import annotations

import socket
import subprocess
import time

import pytest

from conftest import http_request

SSH, HTTP, BLOCKED = 19022, 19080, 19081
DROPIN = "/etc/ssh/sshd_config.d/00-stocksense-baseline.conf"
SSH_OPTS = ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes",
            "-o", "ConnectTimeout=10", "-p", str(SSH)]


def tcp_open(port: int, timeout: float = 4) -> bool:
    """Whether a TCP connection to 127.0.0.1:port gets as far as an answer from the instance."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            sock.sendall(b"HEAD / HTTP/1.0\r\n\r\n")
            return len(sock.recv(64)) > 0
    except OSError:
        return False


def ssh(key, user: str, *command: str, extra: tuple[str, ...] = (), timeout: int = 60) -> subprocess.CompletedProcess:
    return subprocess.run(["ssh", *SSH_OPTS, "-i", str(key), *extra, f"{user}@127.0.0.1", *command],
                          capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def ssh_key(first_host, tmp_path_factory):
    """A key made here, authorised for the login user (and for root, which must still be refused)."""
    key = tmp_path_factory.mktemp("ssh") / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    public = key.with_suffix(".pub").read_text().strip()
    for user, home in (("admin", "/home/admin"), ("root", "/root")):
        first_host.check_output(f"install -d -m 700 -o {user} -g {user} {home}/.ssh && "
                                f"echo '{public}' > {home}/.ssh/authorized_keys && "
                                f"chown {user}:{user} {home}/.ssh/authorized_keys && chmod 600 {home}/.ssh/authorized_keys")
    return key


def test_public_port_answers_and_any_other_port_is_dropped(first_host):
    # Both probes answer inside: only the firewall can make the difference outside.
    for port in (80, 8081):
        first_host.check_output(f"python3 -c \"import urllib.request; urllib.request.urlopen('http://127.0.0.1:{port}/')\"")
    assert http_request(HTTP, "/", host="localhost").status == 200
    assert not tcp_open(BLOCKED), "port 8081 is not in the allowed set and must not answer"


def test_key_login_works_for_the_login_user(ssh_key):
    result = ssh(ssh_key, "admin", "id", "-un")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "admin"


def test_passwords_and_keyboard_interactive_are_refused(ssh_key):
    """The login user has a valid password (prepare.yml); sshd must not even offer to take it."""
    result = ssh(ssh_key, "admin", "true", extra=("-o", "PubkeyAuthentication=no",
                                                  "-o", "PreferredAuthentications=password,keyboard-interactive"))
    assert result.returncode == 255
    assert "Permission denied (publickey)" in result.stderr


def test_root_is_refused_even_with_an_authorised_key(ssh_key):
    result = ssh(ssh_key, "root", "true")
    assert result.returncode == 255
    assert "Permission denied" in result.stderr


def test_weak_key_exchange_and_ciphers_are_refused(ssh_key):
    # A MAC is only negotiated with a non-AEAD cipher (chacha20-poly1305 and GCM carry their own).
    for options in (("KexAlgorithms=diffie-hellman-group14-sha256",), ("Ciphers=aes128-cbc",),
                    ("Ciphers=aes128-ctr", "MACs=hmac-sha1")):
        result = ssh(ssh_key, "admin", "true", extra=tuple(x for option in options for x in ("-o", option)))
        assert result.returncode == 255, options
        assert "no matching" in result.stderr or "Unable to negotiate" in result.stderr, result.stderr


def test_open_session_survives_two_runs_and_a_new_login_still_works(ssh_key, run_role, scenario_vars):
    session = subprocess.Popen(["ssh", *SSH_OPTS, "-i", str(ssh_key), "admin@127.0.0.1", "read line; echo got $line"],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(3)
        assert session.poll() is None, session.stderr.read()
        # The SSH part of the role twice: a changed drop-in (so sshd really reloads), then the
        # original one again. (The whole role's second run is molecule's idempotence step.)
        changed = run_role("baseline", {**scenario_vars, "baseline_ssh_client_alive_interval": 120}, tasks_from="ssh")
        assert changed.rc == 0, changed.output
        assert changed.changed > 0
        restored = run_role("baseline", scenario_vars, tasks_from="ssh")
        assert restored.rc == 0, restored.output
        out, err = session.communicate("alive\n", timeout=30)
        assert session.returncode == 0, err
        assert out.strip() == "got alive"
    finally:
        session.kill()
    assert ssh(ssh_key, "admin", "true").returncode == 0


def test_a_broken_dropin_is_refused_and_the_working_one_stays(first_host, ssh_key, run_role, scenario_vars):
    before = first_host.file(DROPIN).sha256sum
    result = run_role("baseline", {**scenario_vars, "baseline_ssh_extra_options": {"NoSuchSshdOption": "yes"}}, tasks_from="ssh")
    assert result.failed
    assert "NoSuchSshdOption" in result.output  # sshd's own words
    assert first_host.file(DROPIN).sha256sum == before
    assert ssh(ssh_key, "admin", "true").returncode == 0


def test_ssh_only_from_the_admin_network(first_host, ssh_key, run_role, scenario_vars):
    elsewhere = run_role("baseline", {**scenario_vars, "baseline_ssh_admin_cidrs": ["192.0.2.0/24"]}, tasks_from="firewall")
    try:
        assert elsewhere.rc == 0, elsewhere.output
        assert ssh(ssh_key, "admin", "true", extra=("-o", "ConnectTimeout=5")).returncode == 255
        assert http_request(HTTP, "/", host="localhost").status == 200, "the public port stays open"
    finally:
        restored = run_role("baseline", scenario_vars, tasks_from="firewall")
    assert restored.rc == 0, restored.output
    assert ssh(ssh_key, "admin", "true").returncode == 0


@pytest.mark.parametrize(
    ("bad", "words"),
    [
        ({"baseline_ssh_admin_cidrs": ["10.0.0.1"]}, "CIDR form"),
        ({"baseline_ssh_admin_cidrs": []}, "CIDR form"),
        ({"baseline_ssh_allow_users": ["root"]}, "not root"),
        ({"baseline_ssh_allow_users": ["nosuchuser"]}, "accounts that do not exist"),
        ({"baseline_public_tcp_ports": [443, 70000]}, "ports 1-65535"),
        ({"baseline_auto_reboot_time": "4:30am"}, "HH:MM"),
    ],
)
def test_bad_settings_are_refused_before_any_change(first_host, run_role, scenario_vars, bad, words):
    before = first_host.file(DROPIN).sha256sum, first_host.file("/etc/nftables.conf").sha256sum
    result = run_role("baseline", {**scenario_vars, **bad}, tasks_from="validate")
    assert result.failed
    assert words in result.output
    assert (first_host.file(DROPIN).sha256sum, first_host.file("/etc/nftables.conf").sha256sum) == before


def admin_gets_in(key) -> bool:
    """An admin login from this controller. fail2ban names the ban before its firewall action is in:
    a login that connected just then stalls (its later packets dropped) instead of being refused,
    which counts as kept out, as a refusal (255) does."""
    try:
        return ssh(key, "admin", "true", extra=("-o", "ConnectTimeout=5"), timeout=20).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def test_fail2ban_bans_a_source_that_keeps_failing_then_lets_it_back(first_host, ssh_key):
    """Runs last: root logins (refused) until fail2ban bans this controller's address, then unban it."""
    banned = []
    for _ in range(40):
        try:
            ssh(ssh_key, "root", "true", extra=("-o", "ConnectTimeout=5"), timeout=20)
        except subprocess.TimeoutExpired:
            # A ban that lands while this login is under way stalls its connection (the rule
            # rejects packets of a connection already open, which TCP keeps retrying) instead of
            # refusing it: on a loaded machine fail2ban reads the journal late, so this happens.
            pass
        banned = first_host.check_output("fail2ban-client get sshd banip").split()
        if banned:
            break
    # fail2ban reads the journal behind the logins: on a loaded machine the ban comes later.
    deadline = time.monotonic() + 60
    while not banned and time.monotonic() < deadline:
        time.sleep(2)
        banned = first_host.check_output("fail2ban-client get sshd banip").split()
    assert banned, first_host.check_output("fail2ban-client status sshd")
    try:
        assert not admin_gets_in(ssh_key), "a banned address could still log in"
    finally:
        for address in banned:
            first_host.run(f"fail2ban-client set sshd unbanip {address}")
    assert ssh(ssh_key, "admin", "true").returncode == 0
