"""What the role manages of a CloudFront distribution, in one comparable shape.

community.aws.cloudfront_distribution compares the whole DistributionConfig it sends with the one
the API returns, and the API fills in fields the role never sets (FunctionAssociations,
TrustedKeyGroups, ConnectionAttempts, OriginShield, an empty CachePolicyId ...), so the module
would update the distribution on every run. The role compares only the settings it owns, in this
shape, and calls the module only when they differ.
"""

from __future__ import annotations


def _items(container):
    return list((container or {}).get("Items") or [])


def _behaviour(behaviour):
    methods = behaviour.get("AllowedMethods") or {}
    forwarded = behaviour.get("ForwardedValues") or {}
    return {
        "target": behaviour.get("TargetOriginId"),
        "viewer": behaviour.get("ViewerProtocolPolicy"),
        "compress": bool(behaviour.get("Compress")),
        "methods": sorted(_items(methods)),
        "cached_methods": sorted(_items(methods.get("CachedMethods"))),
        "query_string": bool(forwarded.get("QueryString")),
        "cookies": (forwarded.get("Cookies") or {}).get("Forward"),
        "headers": sorted(_items(forwarded.get("Headers"))),
        "ttl": [int(behaviour.get("MinTTL") or 0), int(behaviour.get("DefaultTTL") or 0), int(behaviour.get("MaxTTL") or 0)],
    }


def _origin(origin):
    custom = origin.get("CustomOriginConfig") or {}
    return {
        "id": origin.get("Id"),
        "domain": origin.get("DomainName"),
        "protocol_policy": custom.get("OriginProtocolPolicy"),
        "tls": sorted(_items(custom.get("OriginSslProtocols"))),
        "headers": {h.get("HeaderName"): h.get("HeaderValue") for h in _items(origin.get("CustomHeaders"))},
    }


def cdn_managed_settings(config):
    """The role's settings of a distribution (a DistributionSummary or DistributionConfig, API casing)."""
    if not config:
        return {}
    behaviours = {"*": _behaviour(config.get("DefaultCacheBehavior") or {})}
    behaviours.update({b.get("PathPattern"): _behaviour(b) for b in _items(config.get("CacheBehaviors"))})
    return {
        "enabled": bool(config.get("Enabled")),
        "price_class": config.get("PriceClass"),
        "comment": config.get("Comment"),
        "origins": [_origin(o) for o in _items(config.get("Origins"))],
        "behaviours": behaviours,
    }


def _requested_behaviour(behaviour):
    methods = behaviour.get("allowed_methods") or {}
    forwarded = behaviour.get("forwarded_values") or {}
    return {
        "target": behaviour.get("target_origin_id"),
        "viewer": behaviour.get("viewer_protocol_policy"),
        "compress": bool(behaviour.get("compress")),
        "methods": sorted(methods.get("items") or []),
        "cached_methods": sorted(methods.get("cached_methods") or []),
        "query_string": bool(forwarded.get("query_string")),
        "cookies": (forwarded.get("cookies") or {}).get("forward"),
        "headers": sorted(forwarded.get("headers") or []),
        "ttl": [int(behaviour.get(key) or 0) for key in ("min_ttl", "default_ttl", "max_ttl")],
    }


def cdn_requested_settings(params):
    """The same shape from the module's parameters (snake_case, as the role passes them)."""
    behaviours = {"*": _requested_behaviour(params["default_cache_behavior"])}
    behaviours.update({b["path_pattern"]: _requested_behaviour(b) for b in params.get("cache_behaviors") or []})
    origins = []
    for origin in params.get("origins") or []:
        custom = origin.get("custom_origin_config") or {}
        origins.append({
            "id": origin.get("id"),
            "domain": origin.get("domain_name"),
            "protocol_policy": custom.get("origin_protocol_policy"),
            "tls": sorted((custom.get("origin_ssl_protocols") or {}).get("items") or []),
            "headers": {h["header_name"]: h["header_value"] for h in origin.get("custom_headers") or []},
        })
    return {
        "enabled": bool(params.get("enabled")),
        "price_class": params.get("price_class"),
        "comment": params.get("comment"),
        "origins": origins,
        "behaviours": behaviours,
    }


class FilterModule:
    def filters(self):
        return {"cdn_managed_settings": cdn_managed_settings, "cdn_requested_settings": cdn_requested_settings}
