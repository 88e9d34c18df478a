"""The converged state of the swap role on real systemd instances (podman containers), every platform.

Inside a container the role must never call swapon/swapoff or write live sysctls: those act on
the host's kernel. These tests check the file, fstab entry and sysctl file it lays down, and that
the host's swap is untouched.
"""

from __future__ import annotations

from pathlib import Path

MIB = 1024 * 1024
CONVERGED_SIZE_MB = 64  # from molecule.yml


def host_swap_files() -> list[str]:
    """Swap areas active on the host kernel (the controller running these tests)."""
    lines = Path("/proc/swaps").read_text().splitlines()[1:]
    return [line.split()[0] for line in lines if line.strip()]


def fstab_entries(host, path: str) -> list[str]:
    return [line for line in host.file("/etc/fstab").content_string.splitlines() if line.split()[:1] == [path]]


def test_swap_file_is_root_only_and_sized(host):
    swapfile = host.file("/swapfile")
    assert swapfile.is_file
    assert swapfile.user == "root"
    assert swapfile.group == "root"
    assert swapfile.mode == 0o600
    assert swapfile.size == CONVERGED_SIZE_MB * MIB


def test_swap_file_carries_a_swap_signature(host):
    probe = host.run("blkid --probe --match-tag TYPE --output value /swapfile")
    assert probe.stdout.strip() == "swap"


def test_fstab_has_one_nofail_entry(host):
    assert fstab_entries(host, "/swapfile") == ["/swapfile none swap sw,nofail 0 0"]


def test_kernel_settings_are_persisted(host):
    settings = host.file("/etc/sysctl.d/60-swap.conf")
    assert settings.mode == 0o644
    assert settings.contains(r"^vm\.swappiness=10$")
    assert settings.contains(r"^vm\.vfs_cache_pressure=50$")


def test_host_kernel_swap_untouched(host):
    """The instance shares the host's kernel: no swap area of the instance may be active there."""
    assert not [f for f in host_swap_files() if f.endswith("swapfile") or "containers/storage" in f]
    assert "/swapfile" not in host.file("/proc/swaps").content_string
