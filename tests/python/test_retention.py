"""Retention: the event log forgets events nothing needs once they are older than
`--event-retention`, keeps what an archive covers, and never drops an event whose
delivery is still owed."""

import json
import time

import pytest

from conftest import Eddy, wait_for, embedded_only


@pytest.fixture
def server(fresh_dir):
    s = Eddy(fresh_dir, extra_args=["--event-retention", "1h"]).start()
    yield s
    s.stop()


def stored_events(server):
    return server.metric("eddy_store_events")


def move(server, seconds):
    status, _, raw = server.post("/_eddy/clock", json.dumps({"advance_seconds": seconds}).encode())
    assert status == 200, raw


def test_old_events_go_archived_and_owed_ones_stay(server):
    events = server.client("events")
    events.create_event_bus(Name="plain")
    events.create_event_bus(Name="kept")
    arn = events.describe_event_bus(Name="kept")["Arn"]
    events.create_archive(ArchiveName="forever", EventSourceArn=arn, RetentionDays=0)
    # A delivery that cannot finish within the test: a function target that does not exist
    # is retried, so its event is owed.
    events.put_rule(Name="owed", EventBusName="plain", EventPattern=json.dumps({"source": ["owed"]}))
    events.put_targets(Rule="owed", EventBusName="plain", Targets=[{
        "Id": "f", "Arn": "arn:aws:lambda:us-east-1:123456789012:function:nowhere"}])
    for bus, source, n in (("plain", "old", 20), ("kept", "old", 5), ("plain", "owed", 1)):
        for _ in range(n):
            r = events.put_events(Entries=[{"EventBusName": bus, "Source": source,
                                            "DetailType": "t", "Detail": "{}"}])
            assert r["FailedEntryCount"] == 0
    assert wait_for(lambda: stored_events(server) == 26), stored_events(server)
    # Younger than the retention: nothing goes.
    move(server, 30 * 60)
    time.sleep(1.5)
    assert stored_events(server) == 26
    assert server.metric("eddy_retention_expired_events_total") == 0
    # Older: the plain bus's events go, except the owed one and what was put after it; the
    # archived bus keeps its events.
    move(server, 60 * 60)
    assert wait_for(lambda: server.metric("eddy_retention_expired_events_total") >= 20), \
        server.metric("eddy_retention_expired_events_total")
    # (The gauge is refreshed at most once a second.)
    assert wait_for(lambda: stored_events(server) == 6), stored_events(server)
    assert server.metric("eddy_retention_expired_events_total") == 20


@pytest.mark.parametrize("value,message", [
    ("5", "needs a unit"), ("5w", "needs a unit"), ("-1h", "is not a duration"),
    ("0s", "between 1s and 100 years"), ("999999999d", "between 1s and 100 years"),
])
def test_a_bad_retention_is_refused_at_start(fresh_dir, value, message):
    import subprocess
    from conftest import eddy_bin
    p = subprocess.run([eddy_bin(), "serve", "--data-dir", fresh_dir, "--aws-listen", "127.0.0.1:0",
                        "--http-listen", "127.0.0.1:0", f"--event-retention={value}"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode != 0
    assert message in p.stderr, p.stderr


@embedded_only
def test_expired_space_is_given_back_to_the_file_system(server):
    """Once retention deleted them, the events' space goes back to the file system (the store
    shrinks on disk in bounded steps), not only into the store's free list."""
    events = server.client("events")
    detail = json.dumps({"pad": "x" * 60_000})
    for _ in range(80):
        r = events.put_events(Entries=[{"Source": "big", "DetailType": "t", "Detail": detail}] * 4)
        assert r["FailedEntryCount"] == 0
    assert wait_for(lambda: stored_events(server) == 320), stored_events(server)
    move(server, 2 * 60 * 60)
    assert wait_for(lambda: server.metric("eddy_retention_expired_events_total") == 320)
    # 320 events of 60 KB: about 19 MB freed, and given back.
    assert wait_for(lambda: server.metric("eddy_store_reclaimed_bytes_total") > 15_000_000), \
        server.metric("eddy_store_reclaimed_bytes_total")
