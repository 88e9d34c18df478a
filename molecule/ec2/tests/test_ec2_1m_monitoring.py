"""What the aws_monitoring role left in moto, the local stand-in for AWS, after converge and
idempotence: the backup bucket and the instance's prefix, the snapshot plan, the alarm topic, the
alarms, the failed-job metric filter and the dashboard.

moto stands in for AWS here: every check reads moto's S3, IAM, EC2, AWS Backup, SNS, CloudWatch
and CloudWatch Logs APIs with boto3, exactly as it would read AWS. Where moto stops (no backup
selection API) a test shows the role reaching that boundary.
"""

from __future__ import annotations

import json
import subprocess

import pytest
from botocore.exceptions import ClientError

from conftest import (
    BIN,
    BUCKET,
    ENV,
    MONITORING,
    MOTO_URL,
    NAME,
    REPO,
    flat,
    inventory_list,
    live_instances,
    moto_client,
    moto_env,
    run_playbook,
    tags_of,
)

PREFIX = NAME
DESTINATION = f"s3://{BUCKET}/{PREFIX}"
TAGS = {"Project": "stocksense", "Env": ENV, "Role": "web"}
TOPIC = f"{NAME}-alarms"
REGION_ALARMS = {f"{NAME}-{suffix}" for suffix in ("system-check", "instance-check", "cpu-credits", "memory", "root-disk", "app-health", "app-5xx", "job-failures")}


def the_instance(ec2) -> dict:
    instances = live_instances(ec2)
    assert len(instances) == 1
    return instances[0]


def alarms(region: str = "eu-west-1") -> dict[str, dict]:
    found = moto_client("cloudwatch", region).describe_alarms(AlarmNamePrefix=NAME)["MetricAlarms"]
    return {alarm["AlarmName"]: alarm for alarm in found}


def dims(alarm: dict) -> dict[str, str]:
    return {d["Name"]: d["Value"] for d in alarm.get("Dimensions", [])}


def topic_arn(region: str) -> str:
    arns = [t["TopicArn"] for t in moto_client("sns", region).list_topics()["Topics"] if t["TopicArn"].endswith(f":{TOPIC}")]
    assert len(arns) == 1, arns
    return arns[0]


# --- backup bucket -----------------------------------------------------------------------------

def test_backup_bucket_is_versioned_encrypted_private_and_tls_only_in_moto():
    s3 = moto_client("s3")
    assert s3.get_bucket_versioning(Bucket=BUCKET)["Status"] == "Enabled"
    rules = s3.get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]["Rules"]
    assert [r["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] for r in rules] == ["AES256"]
    block = s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"]
    assert block == {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True}
    policy = json.loads(s3.get_bucket_policy(Bucket=BUCKET)["Policy"])
    (deny,) = policy["Statement"]
    assert (deny["Effect"], deny["Principal"], deny["Action"]) == ("Deny", "*", "s3:*")
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert sorted(deny["Resource"]) == [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"]
    assert tags_of({"Tags": s3.get_bucket_tagging(Bucket=BUCKET)["TagSet"]}) == TAGS


def test_moto_refuses_a_write_without_tls_as_the_bucket_policy_says():
    """moto enforces bucket policies, and serves plain HTTP: a put is refused as AWS would refuse it."""
    with pytest.raises(ClientError) as refused:
        moto_client("s3").put_object(Bucket=BUCKET, Key=f"{PREFIX}/probe", Body=b"x")
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_old_versions_of_backups_expire_after_30_days_in_moto():
    (rule,) = moto_client("s3").get_bucket_lifecycle_configuration(Bucket=BUCKET)["Rules"]
    assert rule["Status"] == "Enabled"
    assert rule["NoncurrentVersionExpiration"]["NoncurrentDays"] == 30
    assert "Expiration" not in rule, "the current version of a backup must never expire"


def test_instance_role_may_use_only_its_own_prefix_of_the_bucket_in_moto(iam):
    assert iam.list_attached_role_policies(RoleName=NAME)["AttachedPolicies"] == [], "no managed policy"
    document = iam.get_role_policy(RoleName=NAME, PolicyName="backup-bucket")["PolicyDocument"]
    if isinstance(document, str):
        document = json.loads(document)
    by_sid = {s["Sid"]: s for s in document["Statement"]}
    listing = by_sid["ListOwnPrefixOnly"]
    assert (listing["Action"], listing["Resource"]) == ("s3:ListBucket", f"arn:aws:s3:::{BUCKET}")
    assert listing["Condition"] == {"StringLike": {"s3:prefix": [PREFIX, f"{PREFIX}/*"]}}
    objects = by_sid["ReadWriteOwnPrefixOnly"]
    assert sorted(objects["Action"]) == ["s3:GetObject", "s3:PutObject"]
    assert objects["Resource"] == f"arn:aws:s3:::{BUCKET}/{PREFIX}/*"
    assert len(by_sid) == 2


def test_instance_carries_its_backup_destination_and_both_inventories_map_it_in_moto(ec2):
    assert tags_of(the_instance(ec2))["BackupDestination"] == DESTINATION
    sandbox = inventory_list("inventories/sandbox")["_meta"]["hostvars"][NAME]
    assert sandbox["app_backup_destination"] == DESTINATION
    aws = inventory_list("inventories/aws", AWS_URL=MOTO_URL)
    assert aws["_meta"]["hostvars"][NAME]["app_backup_destination"] == DESTINATION


# --- EBS snapshots (AWS Backup) ------------------------------------------------------------------

def test_root_volume_is_tagged_for_the_snapshot_plan_in_moto(ec2):
    instance = the_instance(ec2)
    root = next(m for m in instance["BlockDeviceMappings"] if m["DeviceName"] == instance["RootDeviceName"])
    volume = ec2.describe_volumes(VolumeIds=[root["Ebs"]["VolumeId"]])["Volumes"][0]
    assert tags_of(volume)["Backup"] == NAME


def test_daily_backup_plan_keeps_snapshots_7_days_in_moto():
    backup = moto_client("backup")
    plans = [p for p in backup.list_backup_plans()["BackupPlansList"] if p["BackupPlanName"] == f"{NAME}-daily"]
    assert len(plans) == 1, plans
    (rule,) = backup.get_backup_plan(BackupPlanId=plans[0]["BackupPlanId"])["BackupPlan"]["Rules"]
    assert rule["TargetBackupVaultName"] == NAME
    assert rule["ScheduleExpression"] == "cron(0 3 ? * * *)"
    assert rule["Lifecycle"]["DeleteAfterDays"] == 7
    vault = backup.describe_backup_vault(BackupVaultName=NAME)
    assert backup.list_tags(ResourceArn=vault["BackupVaultArn"])["Tags"] == TAGS


def test_aws_backup_service_role_is_only_for_aws_backup_in_moto(iam):
    role = iam.get_role(RoleName=f"{NAME}-backup")["Role"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "backup.amazonaws.com"}
    attached = [p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=f"{NAME}-backup")["AttachedPolicies"]]
    assert attached == ["arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup"]
    assert iam.list_role_policies(RoleName=f"{NAME}-backup")["PolicyNames"] == []


def test_the_volume_selection_is_where_moto_stops():
    """moto 5.2.5 has no backup selection API: with the selection on, the role reaches that task
    (the plan before it exists and is unchanged) and fails there with moto's answer, nothing else."""
    result = run_playbook("playbooks/provision.yml", extra_vars={**MONITORING, "aws_monitoring_snapshot_selection_enabled": True})
    assert result.rc != 0
    failed_task = result.output.split("fatal: [localhost]", 1)[0].rsplit("TASK [", 1)[1]
    assert failed_task.startswith("aws_monitoring : Select the volumes tagged for this stack]"), failed_task
    assert "ListBackupSelections" in flat(result.output) or "CreateBackupSelection" in flat(result.output), result.output[-3000:]


# --- alarms --------------------------------------------------------------------------------------

def test_one_topic_per_alarm_region_with_the_mail_subscription_in_moto():
    for region in ("eu-west-1", "us-east-1"):
        subscriptions = moto_client("sns", region).list_subscriptions_by_topic(TopicArn=topic_arn(region))["Subscriptions"]
        assert [(s["Protocol"], s["Endpoint"]) for s in subscriptions] == [("email", MONITORING["aws_monitoring_alarm_email"])]


def test_nine_alarms_each_telling_the_topic_in_moto():
    """8 in the stack's region plus billing in us-east-1: within the free tier's 10 (README)."""
    regional, billing = alarms(), alarms("us-east-1")
    assert set(regional) == REGION_ALARMS
    assert set(billing) == {f"{NAME}-billing"}
    for alarm in regional.values():
        assert topic_arn("eu-west-1") in alarm["AlarmActions"], alarm["AlarmName"]
        assert alarm["OKActions"] == [topic_arn("eu-west-1")], alarm["AlarmName"]
    assert billing[f"{NAME}-billing"]["AlarmActions"] == [topic_arn("us-east-1")]


def test_billing_alarm_watches_estimated_charges_above_5_usd_in_moto():
    alarm = alarms("us-east-1")[f"{NAME}-billing"]
    assert (alarm["Namespace"], alarm["MetricName"], dims(alarm)) == ("AWS/Billing", "EstimatedCharges", {"Currency": "USD"})
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 5.0)


def test_status_checks_recover_and_reboot_the_instance_in_moto(ec2):
    instance_id = the_instance(ec2)["InstanceId"]
    system, own = alarms()[f"{NAME}-system-check"], alarms()[f"{NAME}-instance-check"]
    assert (system["MetricName"], dims(system)) == ("StatusCheckFailed_System", {"InstanceId": instance_id})
    assert "arn:aws:automate:eu-west-1:ec2:recover" in system["AlarmActions"]
    assert (own["MetricName"], dims(own)) == ("StatusCheckFailed_Instance", {"InstanceId": instance_id})
    assert "arn:aws:automate:eu-west-1:ec2:reboot" in own["AlarmActions"]


def test_host_alarms_use_the_agents_exact_metric_names_and_dimensions_in_moto(ec2):
    instance = the_instance(ec2)
    agent = {"InstanceId": instance["InstanceId"], "InstanceType": "t3.micro"}
    memory, disk, credits = (alarms()[f"{NAME}-{n}"] for n in ("memory", "root-disk", "cpu-credits"))
    assert (memory["Namespace"], memory["MetricName"], dims(memory), memory["Threshold"]) == ("StockSense", "mem_used_percent", agent, 90.0)
    assert (disk["MetricName"], dims(disk), disk["Threshold"]) == (
        "disk_used_percent", {**agent, "path": "/", "device": "nvme0n1p1", "fstype": "ext4"}, 85.0)
    assert (credits["MetricName"], credits["ComparisonOperator"], credits["Threshold"]) == ("CPUCreditBalance", "LessThanThreshold", 20.0)


def test_app_alarms_watch_its_heartbeat_5xx_and_failed_jobs_in_moto():
    health, errors, jobs = (alarms()[f"{NAME}-{n}"] for n in ("app-health", "app-5xx", "job-failures"))
    assert (health["MetricName"], health["Statistic"], health["TreatMissingData"]) == ("Requests", "SampleCount", "breaching")
    assert health["Period"] * health["EvaluationPeriods"] == 300, "no heartbeat for 5 minutes"
    assert (errors["MetricName"], errors["Statistic"], errors["Threshold"]) == ("Errors5xx", "Sum", 5.0)
    assert (jobs["MetricName"], jobs["Namespace"], jobs["Threshold"]) == ("JobFailures", "StockSense", 1.0)
    (metric_filter,) = moto_client("logs").describe_metric_filters(logGroupName="/stocksense/app")["metricFilters"]
    for event in ("backup_failed", "refresh_failed", "unit_failed"):
        assert f'$.event = "{event}"' in metric_filter["filterPattern"]
    assert metric_filter["metricTransformations"][0]["metricName"] == "JobFailures"


# --- dashboard -----------------------------------------------------------------------------------

def test_dashboard_shows_requests_latency_errors_data_age_memory_disk_and_credits_in_moto(ec2):
    body = json.loads(moto_client("cloudwatch").get_dashboard(DashboardName=NAME)["DashboardBody"])
    shown = {m[1] for w in body["widgets"] if w["type"] == "metric" for m in w["properties"]["metrics"]}
    assert {"Requests", "Errors5xx", "PredictionLatency", "DataAgeDays", "mem_used_percent", "disk_used_percent", "CPUCreditBalance"} <= shown
    instance_id = the_instance(ec2)["InstanceId"]
    assert all(instance_id in json.dumps(w) for w in body["widgets"] if "mem_used" in json.dumps(w) or "CPUCredit" in json.dumps(w))


def run_dashboard_module(args: dict, *flags: str) -> dict:
    """The role's cloudwatch_dashboard module, alone (ansible localhost -m), against moto."""
    env = moto_env(
        ANSIBLE_LIBRARY=str(REPO / "roles" / "aws_monitoring" / "library"),
        ANSIBLE_STDOUT_CALLBACK="json", ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
    )
    proc = subprocess.run(
        [str(BIN / "ansible"), "localhost", "-m", "cloudwatch_dashboard", "-a", json.dumps({**args, "endpoint_url": MOTO_URL, "region": "eu-west-1"}), *flags],
        cwd=REPO, capture_output=True, text=True, env=env, timeout=120, check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report, _ = json.JSONDecoder().raw_decode(proc.stdout[proc.stdout.index("{"):])
    return report["plays"][0]["tasks"][0]["hosts"]["localhost"]


def test_dashboard_module_compares_bodies_as_json_and_honours_check_mode_against_moto():
    cloudwatch = moto_client("cloudwatch")
    body = {"widgets": [{"type": "text", "x": 0, "y": 0, "width": 6, "height": 2, "properties": {"markdown": "a"}}]}
    name = f"{NAME}-module-test"
    try:
        assert run_dashboard_module({"name": name, "body": body})["changed"] is True
        # The same body with its keys in another order is no change.
        reordered = {"widgets": [dict(reversed(list(body["widgets"][0].items())))]}
        assert run_dashboard_module({"name": name, "body": json.dumps(reordered)})["changed"] is False
        # Check mode reports the change and leaves the dashboard as it was.
        other = {"widgets": [{**body["widgets"][0], "properties": {"markdown": "b"}}]}
        assert run_dashboard_module({"name": name, "body": other}, "--check")["changed"] is True
        assert json.loads(cloudwatch.get_dashboard(DashboardName=name)["DashboardBody"]) == body
        assert run_dashboard_module({"name": name, "state": "absent"})["changed"] is True
        assert run_dashboard_module({"name": name, "state": "absent"})["changed"] is False
        assert name not in [d["DashboardName"] for d in cloudwatch.list_dashboards()["DashboardEntries"]]
    finally:
        if name in [d["DashboardName"] for d in cloudwatch.list_dashboards()["DashboardEntries"]]:
            cloudwatch.delete_dashboards(DashboardNames=[name])
