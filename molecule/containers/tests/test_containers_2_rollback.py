"""A new tag is deployed and recorded with the previous one; a tag that fails readiness rolls back.

Both images are made on the controller from the converged one: NEXT is the same image under another
name (a new tag that works), BROKEN's command exits at once (a release that never turns ready). The
role ships each as an archive, as it did the first; the tests run it through ansible-playbook.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from test_containers_1_state import CONVERGE_VARS, ENV_FILE, IMAGE, STATE, SYMBOL, fetch, image_dir, serving_image

TAG = IMAGE.rsplit(":", 1)[1]
NEXT = f"localhost/stocksense-containers-next:{TAG}"
BROKEN = f"localhost/stocksense-containers-broken:{TAG}"
BROKEN_CONTAINERFILE = f'FROM {IMAGE}\nCMD ["python3", "-c", "raise SystemExit(\'broken on purpose\')"]\n'


def podman(*args: str, stdin: str | None = None) -> None:
    subprocess.run(["podman", *args], input=stdin, text=True, capture_output=True, check=True, timeout=300)


@pytest.fixture(scope="module", autouse=True)
def controller_images(tmp_path_factory):
    """NEXT and BROKEN in the controller's podman storage; removed (with their archives) at the end."""
    podman("tag", IMAGE, NEXT)
    podman("build", "--quiet", "--format", "docker", "-t", BROKEN, "-f", "-",
           str(tmp_path_factory.mktemp("broken-context")), stdin=BROKEN_CONTAINERFILE)
    yield
    subprocess.run(["podman", "rmi", NEXT, BROKEN], capture_output=True, check=False)
    for name in (NEXT, BROKEN):
        archive = name.replace("/", "_").replace(":", "_") + ".tar"
        subprocess.run(["rm", "-f", f"{CONVERGE_VARS['containers_controller_archive_dir']}/{archive}"], check=False)


def record(host) -> dict:
    return json.loads(host.file(STATE).content_string)


def test_a_new_tag_is_recorded_with_the_previous_one(host, run_role):
    first = run_role("containers", {**CONVERGE_VARS, "containers_image": NEXT})
    assert first.rc == 0, first.output[-3000:]
    assert first.changed > 0
    assert record(host) == {"image": NEXT, "previous": IMAGE}
    assert serving_image(host) == NEXT
    assert host.file("/opt/stocksense/current").linked_to == image_dir(NEXT)
    assert fetch(host, f"/api/v1/symbols/{SYMBOL}/forecast")[0] == 200
    again = run_role("containers", {**CONVERGE_VARS, "containers_image": NEXT})
    assert again.rc == 0 and again.changed == 0, again.output[-3000:]


def test_a_tag_that_fails_readiness_rolls_back(host, run_role):
    before = record(host)
    assert before["image"] == NEXT  # the previous test's deployment serves
    result = run_role("containers", {**CONVERGE_VARS, "containers_image": BROKEN, "containers_health_timeout": 15})
    text = " ".join(result.output.split())
    assert result.rc != 0
    assert f"{BROKEN} did not answer /ready = 200" in text, result.output[-3000:]
    assert f"Rolled back: {NEXT} serves again" in text
    assert "broken on purpose" in text  # the failed container's last log lines are in the message
    assert record(host) == before
    assert serving_image(host) == NEXT
    assert f"STOCKSENSE_IMAGE={NEXT}\n" in host.file(ENV_FILE).content_string
    assert host.file("/opt/stocksense/current").linked_to == image_dir(NEXT)
    status, ctype, body = fetch(host, f"/api/v1/symbols/{SYMBOL}/forecast")
    assert (status, body["symbol"]) == (200, SYMBOL)
