"""Where the enhanced profile keeps the app's state, read from outside the instance.

AWS cannot be reached here: moto on 127.0.0.1 stands in for SSM and S3 (and RDS, which it only
records), and a Debian PostgreSQL container stands in for the RDS endpoint
(playbooks/tasks/sandbox-database.yml). Shared by test_zzz_migrate_to_enhanced.py, which moves this
scenario's running stack to the enhanced profile, and test_zzzz_enhanced_stack.py, which checks it.
"""

from __future__ import annotations

import json
import os
import subprocess
from urllib.parse import urlparse

from ansible_run import PlayResult, moto_client
from sandbox_site import roles_beside_the_app

INSTANCE = "stocksense-e2e-web"
DATABASE_CONTAINER = "stocksense-e2e-db"
PARAMETERS = "/stocksense/e2e"
ENHANCED = {"STOCKSENSE_PROFILE": "enhanced"}
# The moves and the rebuilt instance run the app role only: the other roles do not depend on the
# profile (group_vars/web/stack.yml maps it onto app_* only) and the default converge covers them.
OTHER_ROLES = roles_beside_the_app()
SQLITE_DB = "/var/lib/stocksense/stocksense.db"


def moto(service: str):
    return moto_client(os.environ["MOTO_PORT"], "eu-west-1", service)


def parameter(name: str) -> str:
    return moto("ssm").get_parameter(Name=f"{PARAMETERS}/{name}", WithDecryption=True)["Parameter"]["Value"]


def psql(sql: str) -> list[list[str]]:
    """Rows from the database's stand-in, logged in as the app's user with the password from SSM."""
    dsn = (f"host=127.0.0.1 port={os.environ['SANDBOX_DB_PORT']} dbname={parameter('db/name')} "
           f"user={parameter('db/username')}")
    run = subprocess.run(["psql", "--no-psqlrc", "--tuples-only", "--no-align", "--field-separator=|",
                          "--command", sql, dsn], capture_output=True, text=True, check=False, timeout=60,
                         env=dict(os.environ, PGPASSWORD=parameter("db/password")))
    assert run.returncode == 0, run.stderr
    return [line.split("|") for line in run.stdout.splitlines() if line]


def registry_versions() -> dict[tuple[str, str], str]:
    """(symbol, model) -> the version each `latest` pointer in the S3 registry names."""
    url = urlparse(parameter("registry/url"))
    bucket, prefix = url.netloc, url.path.strip("/")
    s3 = moto("s3")
    keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + "/")
            for o in page.get("Contents", [])]
    out = {}
    for key in keys:
        parts = key[len(prefix) + 1:].split("/")
        if len(parts) == 3 and parts[2] == "latest":
            out[(parts[0], parts[1])] = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())["version"]
    return out


def recap_changed(output: str) -> int:
    """changed= summed over every host's recap line; fails when the output has no recap at all."""
    return PlayResult(0, output).changed
