"""Only the CDN: with nginx_origin_verify_value set, HTTPS answers 403 to requests without the secret header.

The role runs again on the first instance (trixie, whose ports 80/443 are published as
127.0.0.1:18080/18443) with the scenario's settings plus a freshly generated value, the way the enhanced
profile's CloudFront secret reaches it; the requests come from the controller. A second run changes
nothing; then the role runs with the value empty again and the site file is back to the converged
bytes. Named zz so it runs last in the scenario: the other modules see the converged site only.
"""

from __future__ import annotations

import json
import secrets
import string
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from ansible_run import ANSIBLE_BIN, REPO, PlayResult, ansible_env
from conftest import http_request
from standins import standin_upstream  # noqa: F401  (a fixture: pytest finds it by name)

HTTP, HTTPS = 18080, 18443
NAME = "stocksense.test"
SITE = "/etc/nginx/sites-available/stocksense.conf"
MAP = "/etc/nginx/stocksense-origin-verify.conf"
HEADER = "X-Origin-Verify"
# As aws_enhanced generates it: letters and digits, 40 of them (two fixed letters: swapcase differs).
VALUE = "Ov" + "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(38))


@dataclass
class Origin:
    """The role run that turned the check on, the converged site file's hash, and a way to run the role again."""

    on: PlayResult
    converged_site: str
    run: Callable[..., PlayResult]
    state: dict = field(default_factory=lambda: {"on": True})


@pytest.fixture(scope="module")
def origin(first_host, scenario_vars, tmp_path_factory):
    """The role run with the value set (-vvv --diff, so every line it could print is there); off again at the end."""
    work = tmp_path_factory.mktemp("origin")
    (work / "inventory.ini").write_text(f"{first_host.backend.name} ansible_connection=podman\n")
    (work / "play.yml").write_text("- hosts: all\n  gather_facts: true\n  roles:\n    - role: nginx\n")

    def run(role_vars: dict, *args: str) -> PlayResult:
        cmd = [str(ANSIBLE_BIN / "ansible-playbook"), "-i", str(work / "inventory.ini"), str(work / "play.yml"),
               "-e", json.dumps(role_vars), *args]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=ansible_env(), timeout=900, check=False)
        return PlayResult(proc.returncode, proc.stdout + proc.stderr)

    converged = first_host.file(SITE).sha256sum
    assert not first_host.file(MAP).exists, "the converged instance (value empty) has no map file"
    origin = Origin(run({**scenario_vars, "nginx_origin_verify_value": VALUE}, "-vvv", "--diff"), converged, run)
    yield origin
    if origin.state["on"]:
        run(scenario_vars)


def https(path: str, headers: dict | None = None):
    return http_request(HTTPS, path, host=NAME, tls=True, headers=headers)


def test_the_value_is_in_a_root_only_map_and_nowhere_in_the_output(origin, first_host):
    assert origin.on.rc == 0, origin.on.output[-3000:]
    assert origin.on.changed > 0
    assert VALUE not in origin.on.output
    secret_file = first_host.file(MAP)
    assert (secret_file.user, secret_file.group, secret_file.mode) == ("root", "root", 0o600)
    assert VALUE in secret_file.content_string
    assert first_host.run(f"runuser -u www-data -- cat {MAP}").rc != 0, "nginx's workers' user must not read it"
    site = first_host.file(SITE).content_string
    assert VALUE not in site
    assert f"include {MAP};" in site
    assert first_host.run("nginx -t").rc == 0


@pytest.mark.parametrize("path", ["/", "/api/v1/forecast?ticker=AAPL", "/health", "/static/app.css",
                                  "/.well-known/acme-challenge/origin-token"])
def test_https_without_the_header_is_refused_on_every_path(origin, path):
    response = https(path)
    assert response.status == 403, (path, response.status)
    # nginx's own 403 page still carries the site's security headers.
    assert response.header("x-content-type-options") == "nosniff"


@pytest.mark.parametrize("headers", [
    {HEADER: "Ov" + "x" * 38},
    {HEADER: VALUE.swapcase()},
    {HEADER: VALUE[:-1]},
    {HEADER: VALUE + "0"},
    {HEADER: ""},
    {"X-Origin-Verified": VALUE},
], ids=["other-value", "other-case", "prefix", "longer", "empty", "other-header"])
def test_a_wrong_value_is_refused(origin, headers):
    assert https("/static/app.css", headers).status == 403


@pytest.mark.usefixtures("standin_upstream")
def test_the_right_value_reaches_the_app_which_never_sees_it(origin):
    response = https("/echo?through=cdn", {HEADER: VALUE})
    assert response.status == 200, response.body[:300]
    seen = json.loads(response.body)
    assert seen["path"] == "/echo?through=cdn"
    assert HEADER.lower() not in seen["headers"], "nginx must drop the secret before the app"
    # Header names are case-insensitive in HTTP; only the value is compared exactly.
    assert https("/static/app.css", {HEADER.lower(): VALUE}).status == 200


def test_acme_challenge_and_the_redirect_on_port_80_need_no_header(origin, first_host):
    first_host.check_output("echo origin-token-content > /var/www/acme/.well-known/acme-challenge/origin-token")
    response = http_request(HTTP, "/.well-known/acme-challenge/origin-token", host=NAME)
    assert (response.status, response.body) == (200, b"origin-token-content\n")
    assert http_request(HTTP, "/", host=NAME).status == 301
    first_host.run("rm -f /var/www/acme/.well-known/acme-challenge/origin-token")


def test_a_second_run_with_the_value_changes_nothing(origin, scenario_vars):
    again = origin.run({**scenario_vars, "nginx_origin_verify_value": VALUE}, "--diff")
    assert again.rc == 0, again.output[-3000:]
    assert again.changed == 0, again.output[-3000:]
    assert VALUE not in again.output


@pytest.mark.usefixtures("standin_upstream")
def test_the_check_stage_sends_the_header_without_showing_it(origin, tmp_path):
    """playbooks/check.yml, as the last stage runs it, against this instance's published 443."""
    (tmp_path / "tmp").mkdir()
    (tmp_path / "hosts.yml").write_text(json.dumps({"web": {"hosts": {"instance": {
        "ansible_connection": "local", "check_address": "127.0.0.1", "check_port": HTTPS,
        "check_timeout": 5, "nginx_server_name": NAME}}}}))

    def check(value: str) -> PlayResult:
        cmd = [str(ANSIBLE_BIN / "ansible-playbook"), "-vvv", "-i", str(tmp_path / "hosts.yml"),
               str(REPO / "playbooks" / "check.yml"), "-e", json.dumps({"nginx_origin_verify_value": value})]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=ansible_env(TMPDIR=str(tmp_path / "tmp")),
                              timeout=300, check=False)
        return PlayResult(proc.returncode, proc.stdout + proc.stderr)

    sent = check(VALUE)
    assert sent.rc == 0, sent.output[-3000:]
    assert VALUE not in sent.output
    assert list((tmp_path / "tmp").glob("*.origin-verify")) == [], "the header file is removed"
    unsent = check("")
    assert unsent.failed
    assert "returned error: 403" in unsent.output, unsent.output[-3000:]


@pytest.mark.parametrize(("bad", "words"), [
    ({"nginx_origin_verify_header": "X Origin Verify"}, "nginx_origin_verify_header must be an HTTP header name"),
    ({"nginx_origin_verify_value": "tooShort12345"}, "nginx_origin_verify_value must be empty (no check) or at least 16"),
    ({"nginx_origin_verify_value": "has-a-hyphen-and-is-long-enough"}, "nginx_origin_verify_value must be empty (no check) or at least 16"),
])
def test_bad_header_names_and_values_are_refused_before_any_change(origin, first_host, scenario_vars, bad, words):
    before = {path: first_host.file(path).sha256sum for path in (SITE, MAP)}
    result = origin.run({**scenario_vars, "nginx_origin_verify_value": VALUE, **bad})
    assert result.failed
    assert words in " ".join(result.output.split()), result.output[-3000:]
    assert bad.get("nginx_origin_verify_value", VALUE) not in result.output
    assert {path: first_host.file(path).sha256sum for path in before} == before


def test_turned_off_the_site_is_the_converged_one_again(origin, first_host, scenario_vars):
    off = origin.run(scenario_vars)
    assert off.rc == 0, off.output[-3000:]
    origin.state["on"] = False
    assert first_host.file(SITE).sha256sum == origin.converged_site
    assert not first_host.file(MAP).exists
    assert https("/static/app.css").status == 200
