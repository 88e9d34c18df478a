"""The swap role's behaviour on resize, removal and bad input.

These tests run the role again with other variables through ansible-playbook, on the scenario's
first instance only (the converged state is checked on every platform in test_swap_state.py).
"""

from __future__ import annotations

import pytest

from test_swap_state import CONVERGED_SIZE_MB, MIB, fstab_entries


def test_role_says_it_leaves_the_kernel_alone(run_role):
    result = run_role("swap", {"swap_file_size_mb": CONVERGED_SIZE_MB})
    assert result.rc == 0, result.output
    assert "This host is a container" in result.output
    assert result.changed == 0


def test_resize_then_second_run_changes_nothing(first_host, run_role):
    path = "/swap-resize"
    first = run_role("swap", {"swap_file_path": path, "swap_file_size_mb": 48})
    assert first.rc == 0, first.output
    assert first_host.file(path).size == 48 * MIB
    bigger = run_role("swap", {"swap_file_path": path, "swap_file_size_mb": 80})
    assert bigger.rc == 0, bigger.output
    assert bigger.changed > 0
    assert first_host.file(path).size == 80 * MIB
    assert first_host.run(f"blkid --probe --match-tag TYPE --output value {path}").stdout.strip() == "swap"
    assert len(fstab_entries(first_host, path)) == 1
    again = run_role("swap", {"swap_file_path": path, "swap_file_size_mb": 80})
    assert again.changed == 0, again.output


def test_dd_method_writes_a_full_file(first_host, run_role):
    path = "/swap-dd"
    assert run_role("swap", {"swap_file_path": path, "swap_state": "absent"}).rc == 0
    result = run_role("swap", {"swap_file_path": path, "swap_file_size_mb": 40, "swap_create_method": "dd"}, verbose=True)
    assert result.rc == 0, result.output
    assert "if=/dev/zero" in result.output, "the file must be written by dd"
    swapfile = first_host.file(path)
    assert swapfile.size == 40 * MIB
    # Every block written: allocated blocks cover the whole size (no holes for swapon to reject).
    blocks, block_size = (int(n) for n in first_host.check_output(f"stat -c '%b %B' {path}").split())
    allocated = blocks * block_size
    assert allocated >= 40 * MIB


def test_absent_removes_everything_and_is_idempotent(first_host, run_role):
    path = "/swap-gone"
    sysctl_file = "/etc/sysctl.d/61-swap-gone.conf"
    made = run_role("swap", {"swap_file_path": path, "swap_file_size_mb": 40, "swap_sysctl_file": sysctl_file})
    assert made.rc == 0, made.output
    assert first_host.file(path).exists
    removed = run_role("swap", {"swap_file_path": path, "swap_state": "absent", "swap_sysctl_file": sysctl_file})
    assert removed.rc == 0, removed.output
    assert not first_host.file(path).exists
    assert not first_host.file(sysctl_file).exists
    assert fstab_entries(first_host, path) == []
    assert fstab_entries(first_host, "/swapfile"), "removing one swap file must not touch another's fstab entry"
    again = run_role("swap", {"swap_file_path": path, "swap_state": "absent", "swap_sysctl_file": sysctl_file})
    assert again.rc == 0 and again.changed == 0, again.output


def test_string_size_fails_with_argument_spec_message(first_host, run_role):
    path = "/swap-typo"
    result = run_role("swap", {"swap_file_path": path, "swap_file_size_mb": "2G"})
    assert result.failed
    assert "swap_file_size_mb" in result.output
    assert "int" in result.output
    assert "argument spec" in result.output.lower() or "argument_spec" in result.output.lower()
    assert not first_host.file(path).exists


def test_too_little_disk_fails_before_writing_anything(first_host, run_role):
    path = "/swap-huge"
    before = first_host.file("/etc/fstab").content_string
    result = run_role("swap", {"swap_file_path": path, "swap_file_size_mb": 50_000_000})
    assert result.failed
    assert "Not enough free disk" in result.output
    assert "Nothing was changed" in result.output
    assert not first_host.file(path).exists
    assert first_host.file("/etc/fstab").content_string == before


@pytest.mark.parametrize("bad", [{"swap_state": "gone"}, {"swap_manage_kernel": "yes please"}])
def test_bad_choices_are_refused(run_role, bad):
    result = run_role("swap", bad)
    assert result.failed
    assert next(iter(bad)) in result.output
    assert "one of" in result.output
