"""The baseline role's updates, accounts, journal and boot behaviour on the instance itself."""

from __future__ import annotations

import subprocess
import time

import pytest

from conftest import http_request
from test_baseline_access import BLOCKED, HTTP, tcp_open


def test_unattended_upgrade_runs_with_security_and_updates_origins(first_host):
    dry_run = first_host.run("unattended-upgrade --dry-run --debug")
    assert dry_run.rc == 0, dry_run.stdout + dry_run.stderr
    origins = next(line for line in (dry_run.stdout + dry_run.stderr).splitlines() if "Allowed origins are" in line)
    assert "-security" in origins and "-updates" in origins
    # Debian's own default (the point-release origin) is replaced, not added to.
    assert "codename=trixie,label=Debian'" not in origins


def test_updates_are_scheduled_with_the_reboot_window(first_host):
    config = first_host.check_output("apt-config dump")
    assert 'APT::Periodic::Unattended-Upgrade "1";' in config
    assert 'Unattended-Upgrade::Automatic-Reboot-Time "04:30";' in config
    # The scenario turns the reboot off (a throwaway container); the default is on.
    assert 'Unattended-Upgrade::Automatic-Reboot "false";' in config
    for timer in ("apt-daily.timer", "apt-daily-upgrade.timer"):
        assert first_host.service(timer).is_enabled
    assert "$nrconf{restart} = 'a';" in first_host.file("/etc/needrestart/conf.d/50-stocksense-baseline.conf").content_string


def test_security_updates_are_installed_already(first_host):
    pending = first_host.check_output("apt-get --simulate --quiet upgrade")
    assert "-security" not in pending, pending


def test_login_sessions_give_others_nothing_get_a_private_tmp_and_no_core_dumps(first_host):
    """UMASK 027 from login.defs; pam_umask then mirrors the owner bits to the group for a user whose
    group is their own private group (Debian's USERGROUPS_ENAB), so admin's sessions get 007."""
    assert first_host.file("/etc/login.defs").contains("^UMASK[[:space:]]*027$")
    umask, tmpdir, core = first_host.check_output("su - admin -c 'umask; echo $TMPDIR; ulimit -Hc'").splitlines()
    assert int(umask, 8) & 0o007 == 0o007, f"others must get no permissions, umask {umask}"
    assert tmpdir == f"/tmp/user/{first_host.user('admin').uid}"
    assert core == "0"
    # A user in a shared group gets 027 itself.
    shared = first_host.check_output("su -s /bin/bash -g users nobody -c umask")
    assert shared == "0027"


def test_services_get_no_core_dumps(first_host):
    assert first_host.check_output("systemctl show --property=DefaultLimitCORE") == "DefaultLimitCORE=0"


def test_journal_is_persistent_and_capped(first_host):
    first_host.check_output("logger -t stocksense-baseline-test persistent-journal-check && journalctl --flush")
    machine_id = first_host.file("/etc/machine-id").content_string.strip()
    assert first_host.file(f"/var/log/journal/{machine_id}/system.journal").exists
    # journald states the limits it applies whenever it opens the system journal: the last time counts.
    status = first_host.check_output("journalctl -b -u systemd-journald --no-pager -o cat")
    opened = [line for line in status.splitlines() if line.startswith("System Journal (/var/log/journal/")]
    assert opened, status
    assert ", max 300M," in opened[-1], opened[-1]


def test_blocked_kernel_modules_are_made_unloadable(first_host):
    """The container has no modprobe (no kernel of its own); the host reads this file."""
    config = first_host.file("/etc/modprobe.d/90-stocksense-baseline.conf")
    for module in ("usb-storage", "sctp", "dccp"):
        assert config.contains(f"^install {module} /bin/false$")
        assert config.contains(f"^blacklist {module}$")


@pytest.mark.parametrize("unit", ["ssh.service", "nftables.service", "fail2ban.service", "cron.service", "stocksense-probe@80.service"])
def test_every_service_is_active_again_after_a_restart(first_host, unit, restarted):
    assert first_host.service(unit).is_running
    assert first_host.service(unit).is_enabled


def test_firewall_is_back_after_a_restart(first_host, restarted):
    ruleset = first_host.check_output("nft list table inet stocksense_baseline")
    assert "policy drop" in ruleset
    assert http_request(HTTP, "/", host="localhost").status == 200
    assert not tcp_open(BLOCKED)
    assert first_host.run("systemctl is-system-running").stdout.strip() in {"running", "degraded"}
    assert first_host.run("systemctl --failed --no-legend").stdout.strip() == ""


@pytest.fixture(scope="module")
def restarted(first_host):
    """Restart the instance (the container) once, as a reboot would, and wait for systemd to settle."""
    name = first_host.backend.name
    subprocess.run(["podman", "restart", "--time", "20", name], check=True, capture_output=True, timeout=120)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        state = subprocess.run(["podman", "exec", name, "systemctl", "is-system-running", "--wait"],
                               capture_output=True, text=True, timeout=130, check=False).stdout.strip()
        if state in {"running", "degraded"}:
            return state
        time.sleep(2)
    pytest.fail(f"{name} did not finish booting after a restart")
