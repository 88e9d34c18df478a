"""The CloudFront distribution in moto (the CloudFront stand-in; no edge serves anything here): the
web instance as an HTTPS-only custom origin carrying the origin-verify secret, the origin's
Cache-Control and ETag honoured on cached paths, admin paths never cached, price class 100.
"""

from __future__ import annotations

import pytest

from conftest import VERIFY_PARAMETER, distribution_config, moto_client, secret


@pytest.fixture(scope="module")
def config() -> dict:
    return distribution_config()


def test_origin_is_the_web_instance_over_https_only(config, ec2):
    origins = config["Origins"]["Items"]
    assert len(origins) == 1
    custom = origins[0]["CustomOriginConfig"]
    assert custom["OriginProtocolPolicy"] == "https-only"
    assert custom["OriginSslProtocols"]["Items"] == ["TLSv1.2"]
    instance = ec2.describe_instances(Filters=[{"Name": "tag:Env", "Values": ["enh-test"]},
                                               {"Name": "instance-state-name", "Values": ["running"]}])["Reservations"][0]["Instances"][0]
    assert origins[0]["DomainName"] == instance["PublicDnsName"]


def test_origin_carries_the_verify_header_kept_in_ssm(config):
    headers = {h["HeaderName"]: h["HeaderValue"] for h in config["Origins"]["Items"][0]["CustomHeaders"]["Items"]}
    assert headers == {"X-Origin-Verify": secret(VERIFY_PARAMETER)}
    assert moto_client("ssm").get_parameter(Name=VERIFY_PARAMETER)["Parameter"]["Type"] == "SecureString"


def test_price_class_100_and_enabled(config):
    assert config["PriceClass"] == "PriceClass_100"
    assert config["Enabled"] is True


def behaviours(config) -> dict:
    found = {"*": config["DefaultCacheBehavior"]}
    found.update({b["PathPattern"]: b for b in config["CacheBehaviors"]["Items"]})
    return found


@pytest.mark.parametrize("path", ["*", "/api/*"])
def test_public_pages_and_api_follow_the_origins_cache_control_without_cookies(config, path):
    behaviour = behaviours(config)[path]
    # min 0: the origin's no-store/max-age=0 are obeyed; default only when it sends no Cache-Control.
    assert behaviour["MinTTL"] == 0
    assert behaviour["MaxTTL"] == 86400
    assert behaviour["ForwardedValues"]["Cookies"]["Forward"] == "none"
    assert behaviour["ForwardedValues"]["Headers"]["Quantity"] == 0
    assert behaviour["ForwardedValues"]["QueryString"] is True
    assert sorted(behaviour["AllowedMethods"]["Items"]) == ["GET", "HEAD"]
    assert behaviour["ViewerProtocolPolicy"] == "redirect-to-https"


def test_admin_paths_are_never_cached_and_get_the_whole_request(config):
    admin = behaviours(config)["/admin*"]
    assert (admin["MinTTL"], admin["DefaultTTL"], admin["MaxTTL"]) == (0, 0, 0)
    assert admin["ForwardedValues"]["Cookies"]["Forward"] == "all"
    assert admin["ForwardedValues"]["Headers"]["Items"] == ["*"]
    assert "POST" in admin["AllowedMethods"]["Items"]
    # CloudFront matches behaviours in order: admin before the API, both before the default.
    assert [b["PathPattern"] for b in config["CacheBehaviors"]["Items"]] == ["/admin*", "/api/*"]
