"""S3.3, S9.3 across a three-node ensemble: kill -9 of the leader under continuous kazoo writes.

Each run starts from a healthy ensemble, keeps a writer creating sequential znodes, puts a
bystander session with an ephemeral on the leader, and kills the leader with SIGKILL. The run
fails unless writes resume, no acknowledged write is missing afterwards, no session expires,
and the bystander resumes the same session on another node with its ephemeral. The killed
node is restarted before the next run, so every run kills a different incarnation.

The figures (longest write gap, time to resume) are printed, not asserted: they are measured
with a release build against Apache ZooKeeper by ``tests/tools/failover.py``.

Runs against a managed zk-node ensemble (tickTime 2000), or with ``ZK_TEST_SERVER=zookeeper``
against Apache ZooKeeper through ``../shared/tools/zk-anchor.sh start3`` (fixed ports
21811-21813). Skipped in ``ZK_TEST_HOSTS`` mode: it needs servers it may kill.
"""

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
import failover  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
RUNS = int(os.environ.get("ZK_TEST_FAILOVER_RUNS", "3"))


@pytest.mark.timeout(240)
def test_s9_3_leader_kill_9_under_writes_loses_nothing_and_keeps_sessions():
    if os.environ.get("ZK_TEST_HOSTS"):
        pytest.skip("needs an ensemble it may kill (not ZK_TEST_HOSTS mode)")
    if os.environ.get("ZK_TEST_SERVER") == "zookeeper":
        ens = failover.AnchorEnsemble()
    else:
        binary = os.environ.get("ZK_NODE_BIN") or str(REPO / "target" / "debug" / "zk-node")
        ens = failover.ZkNodeEnsemble(binary)
    results = failover.measure(ens, RUNS)
    assert len(results) == RUNS
    for r in results:
        assert r["acked"] >= 100, r
    print(failover.summary(results))
