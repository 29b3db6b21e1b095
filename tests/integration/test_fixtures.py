"""Each shared fixture talks to the real thing, not to a stand-in."""

import socket

import boto3
import pymysql
import requests
from servers import mariadb, redis_server


def test_mariadb_fixture_is_a_real_server_with_a_private_database(mariadb_db):
    with mariadb.connect(mariadb_db) as conn, conn.cursor() as cur:
        cur.execute("SELECT VERSION(), DATABASE()")
        version, current = cur.fetchone()
        cur.execute("CREATE TABLE t (id INT PRIMARY KEY, note VARCHAR(10))")
        cur.execute("INSERT INTO t VALUES (1, 'ok')")
        cur.execute("CHECKSUM TABLE t")
        checksum = cur.fetchone()[1]
    assert "MariaDB" in version or version[0].isdigit()
    assert current == mariadb_db
    assert checksum not in (None, 0)


def test_mariadb_databases_are_unique_per_test(mariadb_db):
    with mariadb.connect() as conn, conn.cursor() as cur:
        cur.execute("SHOW DATABASES LIKE %s", (mariadb_db,))
        assert cur.fetchall() == ((mariadb_db,),)
        try:
            cur.execute("USE `mtx_does_not_exist_anywhere`")
            raise AssertionError("an unknown database must be refused by the server")
        except pymysql.err.OperationalError as exc:
            assert exc.args[0] == 1049


def test_redis_fixture_is_a_real_server(redis_prefix):
    client = redis_server.client()
    info = client.info("server")
    client.rpush(redis_prefix + "queues:default", "job-1", "job-2")
    assert info["redis_version"]
    assert client.llen(redis_prefix + "queues:default") == 2
    assert client.lpop(redis_prefix + "queues:default") == b"job-1"


def test_s3_fixture_is_a_real_http_server_on_loopback(s3_bucket):
    client = boto3.client(
        "s3",
        endpoint_url=s3_bucket["endpoint_url"],
        region_name=s3_bucket["region"],
        aws_access_key_id=s3_bucket["access_key_id"],
        aws_secret_access_key=s3_bucket["secret_access_key"],
    )
    client.put_object(Bucket=s3_bucket["bucket"], Key="probe/hello.txt", Body=b"hello")
    listing = requests.get(f"{s3_bucket['endpoint_url']}/{s3_bucket['bucket']}?list-type=2", timeout=5)
    host, port = s3_bucket["endpoint_url"].removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5):
        pass
    assert host == "127.0.0.1"
    assert listing.status_code == 200
    assert "<Key>probe/hello.txt</Key>" in listing.text
    body = client.get_object(Bucket=s3_bucket["bucket"], Key="probe/hello.txt")["Body"].read()
    assert body == b"hello"


def test_b2_simulator_fixture_runs_b2sdk_end_to_end(b2_simulator):
    bucket = b2_simulator.admin.create_bucket("mtx-fixture-bucket", "allPrivate")
    bucket.upload_bytes(b"hello b2", "probe/hello.txt")
    other_client = b2_simulator.new_api()
    other_client.authorize_account("production", b2_simulator.account_id, b2_simulator.master_key)
    listing = other_client.get_bucket_by_name("mtx-fixture-bucket").ls(recursive=True)
    names = [info.file_name for info, _folder in listing]
    assert names == ["probe/hello.txt"]
