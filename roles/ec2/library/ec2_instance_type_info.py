#!/usr/bin/python
# Why an in-repo module: neither amazon.aws 10 nor community.aws 10 (the pinned collections) has a
# module for EC2 DescribeInstanceTypes. It is built on amazon.aws's AnsibleAWSModule, so region,
# endpoint_url, profile and credentials work exactly as in the collection's own modules.
from __future__ import annotations

DOCUMENTATION = r"""
---
module: ec2_instance_type_info
short_description: Describe EC2 instance types (DescribeInstanceTypes), optionally filtered
description:
  - Read-only. Lists instance types offered in the region with their architectures, vCPUs,
    memory and free-tier eligibility.
  - The ec2 role uses it to resolve C(ec2_instance_type=auto) (filter C(free-tier-eligible=true))
    and to learn the architecture (x86_64 or arm64) of the chosen type.
options:
  instance_types:
    description: Only these types; an unknown type fails with AWS's InvalidInstanceType error.
    type: list
    elements: str
    default: []
  filters:
    description: DescribeInstanceTypes filters, e.g. C({"free-tier-eligible": "true"}).
    type: dict
    default: {}
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
author: StockSense Ops
"""

EXAMPLES = r"""
- name: Free-tier eligible types of this account and region
  ec2_instance_type_info:
    region: eu-west-1
    filters:
      free-tier-eligible: "true"
  register: free_types
"""

RETURN = r"""
instance_types:
  description: One entry per type, sorted by name.
  returned: always
  type: list
  elements: dict
  contains:
    instance_type: {description: Type name, type: str, sample: t3.micro}
    architectures: {description: Supported architectures, type: list, sample: [x86_64]}
    free_tier_eligible: {description: Free-tier eligible for this account, type: bool}
    vcpus: {description: Default vCPUs, type: int}
    memory_mib: {description: Memory in MiB, type: int}
    burstable: {description: Burstable performance (T family, CPU credits), type: bool}
"""

try:
    from botocore.exceptions import BotoCoreError, ClientError
except ImportError:
    pass  # AnsibleAWSModule reports the missing botocore itself

from ansible_collections.amazon.aws.plugins.module_utils.ec2 import ansible_dict_to_boto3_filter_list
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry


def summarise(instance_type: dict) -> dict:
    return {
        "instance_type": instance_type["InstanceType"],
        "architectures": instance_type.get("ProcessorInfo", {}).get("SupportedArchitectures", []),
        "free_tier_eligible": bool(instance_type.get("FreeTierEligible", False)),
        "vcpus": instance_type.get("VCpuInfo", {}).get("DefaultVCpus"),
        "memory_mib": instance_type.get("MemoryInfo", {}).get("SizeInMiB"),
        "burstable": bool(instance_type.get("BurstablePerformanceSupported", False)),
    }


def describe(client, instance_types: list, filters: dict) -> list:
    params = {}
    if instance_types:
        params["InstanceTypes"] = instance_types
    if filters:
        params["Filters"] = ansible_dict_to_boto3_filter_list(filters)
    paginator = client.get_paginator("describe_instance_types")
    pages = paginator.paginate(**params).build_full_result()
    return sorted((summarise(t) for t in pages.get("InstanceTypes", [])), key=lambda t: t["instance_type"])


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec={
            "instance_types": {"type": "list", "elements": "str", "default": []},
            "filters": {"type": "dict", "default": {}},
        },
        supports_check_mode=True,
    )
    client = module.client("ec2", retry_decorator=AWSRetry.jittered_backoff())
    try:
        found = describe(client, module.params["instance_types"], module.params["filters"])
    except (BotoCoreError, ClientError) as error:
        module.fail_json_aws(error, msg="DescribeInstanceTypes failed")
    module.exit_json(changed=False, instance_types=found)


if __name__ == "__main__":
    main()
