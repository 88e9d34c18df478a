"""The database the role made in moto (the RDS stand-in): encrypted, private, backed up, protected,
pinned, in the default VPC's subnets, and reachable on 5432 from the web group only.

moto keeps RDS's settings but runs no PostgreSQL: what the instance can do with the database is
tested elsewhere, against Debian's PostgreSQL.
"""

from __future__ import annotations

import pytest

from conftest import DB, STACK


@pytest.fixture(scope="module")
def database(rds) -> dict:
    found = rds.describe_db_instances(DBInstanceIdentifier=DB)["DBInstances"]
    assert len(found) == 1
    return found[0]


def test_database_is_encrypted_private_and_backed_up_for_7_days(database):
    assert database["StorageEncrypted"] is True
    assert database["PubliclyAccessible"] is False
    assert database["BackupRetentionPeriod"] == 7
    assert database["DeletionProtection"] is True


def test_database_is_postgresql_pinned_free_tier_sized(database):
    assert database["Engine"] == "postgres"
    assert database["EngineVersion"] == "16.6"
    assert database["AutoMinorVersionUpgrade"] is False
    assert database["DBInstanceClass"] == "db.t4g.micro"
    assert database["AllocatedStorage"] == 20
    assert database["StorageType"] == "gp2"
    assert database["MultiAZ"] is False
    assert database["DBName"] == "stocksense"
    assert database["MasterUsername"] == "stocksense"


def test_database_sits_in_the_default_vpcs_subnets(database, rds, ec2):
    group = rds.describe_db_subnet_groups(DBSubnetGroupName=f"{STACK}-db-subnets")["DBSubnetGroups"][0]
    assert database["DBSubnetGroup"]["DBSubnetGroupName"] == group["DBSubnetGroupName"]
    default_subnets = ec2.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"]
    assert sorted(s["SubnetIdentifier"] for s in group["Subnets"]) == sorted(s["SubnetId"] for s in default_subnets)
    assert len({s["AvailabilityZone"] for s in default_subnets}) >= 2


def test_database_group_admits_only_5432_from_the_web_group(database, ec2):
    attached = [g["VpcSecurityGroupId"] for g in database["VpcSecurityGroups"]]
    db_group = ec2.describe_security_groups(GroupIds=attached)["SecurityGroups"]
    assert [g["GroupName"] for g in db_group] == [f"{STACK}-db"]
    web_group = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [STACK]}])["SecurityGroups"][0]
    ingress = db_group[0]["IpPermissions"]
    assert len(ingress) == 1
    rule = ingress[0]
    assert (rule["IpProtocol"], rule["FromPort"], rule["ToPort"]) == ("tcp", 5432, 5432)
    assert [pair["GroupId"] for pair in rule["UserIdGroupPairs"]] == [web_group["GroupId"]]
    assert rule["IpRanges"] == [] and rule["Ipv6Ranges"] == []
    assert db_group[0]["IpPermissionsEgress"] == [], "the database starts no connection"
