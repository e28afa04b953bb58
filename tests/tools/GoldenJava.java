// GoldenJava: drives the ZooKeeper 3.8 Java client API for the golden captures
// that zkCli.sh cannot produce (multiRead, checkWatches, SetWatches/SetWatches2
// after a reconnect, canBeReadOnly connect, null-data create via the API).
// Run by tests/tools/capture_golden.py through its recording proxy:
//   java -cp CLASSES:/usr/share/java/zookeeper.jar GoldenJava SCENARIO HOST:PORT BASEPATH
// When it wants the TCP connection cut it prints "DROP" and waits for a line on stdin.
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.apache.zookeeper.AddWatchMode;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Op;
import org.apache.zookeeper.OpResult;
import org.apache.zookeeper.WatchedEvent;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooDefs.Ids;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.Stat;

public class GoldenJava {
    static final LinkedBlockingQueue<WatchedEvent> events = new LinkedBlockingQueue<>();
    // Only node events: state changes (Disconnected/SyncConnected) also reach every watcher.
    static final Watcher recorder = e -> {
        if (e.getType() != Watcher.Event.EventType.None) events.add(e);
    };

    public static void main(String[] a) throws Exception {
        String scen = a[0], hosts = a[1], b = a[2];
        CountDownLatch connected = new CountDownLatch(1);
        boolean ro = scen.equals("readonly");
        ZooKeeper zk = new ZooKeeper(hosts, 10000, e -> {
            if (e.getState() == Watcher.Event.KeeperState.SyncConnected) connected.countDown();
            System.out.println("event " + e);
        }, ro);
        connected.await(10, TimeUnit.SECONDS);
        switch (scen) {
            case "multiread": {
                zk.create(b, null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT); // null data
                zk.getData(b, false, null);
                // multi from the Java client (create + check) then multiRead
                zk.multi(Arrays.asList(
                        Op.create(b + "/k", "v".getBytes(), Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT),
                        Op.check(b, 0)));
                List<OpResult> r = zk.multi(Arrays.asList(
                        Op.getData(b + "/k"), Op.getChildren(b), Op.getData(b + "/missing")));
                System.out.println("multiRead " + r.size());
                try {   // multiRead is not atomic: per-op errors, no rollback markers
                    zk.multi(Arrays.asList(Op.getChildren(b + "/missing"), Op.getData(b)));
                } catch (KeeperException e) {
                    System.out.println("multiRead error " + e.code());
                }
                break;
            }
            case "checkwatches": {
                zk.create(b, "x".getBytes(), Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
                Watcher w1 = e -> System.out.println("w1 " + e);
                Watcher w2 = e -> System.out.println("w2 " + e);
                zk.getData(b, w1, null);
                zk.getChildren(b, w2);
                zk.removeWatches(b, w1, Watcher.WatcherType.Data, false);     // checkWatches (17)
                zk.removeWatches(b, w2, Watcher.WatcherType.Children, false); // checkWatches (17)
                try {
                    zk.removeWatches(b, w1, Watcher.WatcherType.Any, false);  // gone: NoWatcher
                } catch (KeeperException e) {
                    System.out.println("removeWatches " + e.code());
                }
                zk.getData(b, w1, null);
                zk.removeAllWatches(b, Watcher.WatcherType.Any, false);       // removeWatches (18)
                break;
            }
            case "setwatches": {
                zk.create(b, "x".getBytes(), Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
                zk.getData(b, recorder, null);            // data watch
                zk.exists(b + "/later", recorder);        // exist watch (missing node)
                zk.getChildren(b, recorder);              // child watch
                drop();
                waitConnected(zk);
                zk.setData(b, "y".getBytes(), -1);        // fires the re-registered data watch
                System.out.println("fired " + events.poll(5, TimeUnit.SECONDS));
                break;
            }
            case "setwatches2": {
                zk.create(b, "x".getBytes(), Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
                zk.addWatch(b, recorder, AddWatchMode.PERSISTENT);
                zk.addWatch(b + "/r", recorder, AddWatchMode.PERSISTENT_RECURSIVE);
                zk.getData(b, recorder, null);
                drop();
                waitConnected(zk);
                zk.create(b + "/r", null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
                zk.create(b + "/r/s", null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
                for (int i = 0; i < 3; i++) System.out.println("fired " + events.poll(5, TimeUnit.SECONDS));
                break;
            }
            case "readonly": {
                zk.exists("/", false);
                zk.getChildren("/", false, new Stat());
                break;
            }
            default:
                throw new IllegalArgumentException(scen);
        }
        zk.close();
    }

    // Ask the capturing proxy to cut the connection and wait until it has.
    static void drop() throws Exception {
        System.out.println("DROP");
        System.out.flush();
        new BufferedReader(new InputStreamReader(System.in)).readLine();
    }

    static void waitConnected(ZooKeeper zk) throws Exception {
        Thread.sleep(200);
        for (int i = 0; i < 100 && zk.getState() != ZooKeeper.States.CONNECTED; i++) Thread.sleep(100);
        System.out.println("state " + zk.getState());
    }
}
