// Integration: a Sluice cluster on one machine: a real etcd from Debian and three sluiced on
// loopback ports in temp dirs. Membership, the shared stream catalog (admin port and Firehose
// API), producers that carry on while nodes are killed, adoption of a dead node's backlog,
// fencing, etcd killed under load, and values in etcd that are not what Sluice wrote.
#include <catch2/catch.hpp>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "client-lib/client.h"
#include "tests/support/clients.h"
#include "tests/support/delivered.h"
#include "tests/support/etcd.h"
#include "tests/support/http_exchange.h"
#include "tests/support/raw_socket.h"
#include "tests/support/skip.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_server.h"

using namespace sluice;
using sluice::test::AdminAsk;
using sluice::test::EtcdServer;
using sluice::test::TempDir;
using sluice::test::TestServer;
using sluice::test::WaitFor;
using namespace std::chrono_literals;

namespace {

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

std::string Ask(const TestServer& s, const std::string& command) { return AdminAsk(s.admin_port(), command + "\r\n"); }

// Three nodes n1..n3 and one etcd. Every node writes its config with a short lease (2 s), so a
// killed node leaves the member list quickly.
struct Cluster {
  TempDir tmp;
  EtcdServer etcd;
  std::vector<std::unique_ptr<TestServer>> nodes;
  std::string shared;  // a directory every node delivers the test streams to

  explicit Cluster(const std::string& extra_config = "", int count = 3) {
    REQUIRE(etcd.Start());
    shared = tmp.Sub("shared");
    for (int i = 1; i <= count; i++) {
      const std::string id = "n" + std::to_string(i);
      std::ofstream(tmp.Sub(id + ".toml")) << "cluster_lease_ttl_s = 2\ncluster_timeout_ms = 1000\n" << extra_config;
      nodes.push_back(std::make_unique<TestServer>(
          tmp.Sub(id), std::vector<std::string>{"--config", tmp.Sub(id + ".toml"), "--cluster", etcd.endpoint(),
                                                "--node-id", id, "--shards", "1", "--delivery-threads", "2"}));
    }
    for (auto& n : nodes) REQUIRE(n->Start());
  }
  TestServer& node(int i) { return *nodes[i - 1]; }
  std::string Seeds() const {
    std::string s;
    for (const auto& n : nodes)
      if (n->running()) s += (s.empty() ? "" : ",") + n->addr();
    return s;
  }
  // A stream delivered to `shared`, newline-delimited, sealed every second.
  void CreateStream(const std::string& name, int on = 1, const std::string& extra = "") {
    std::string reply = Ask(node(on), "STREAM CREATE " + name + " buffering.interval_s 1 append_delimiter true "
                                      "directory.path " + shared + "/" + name + " " + extra);
    INFO(reply);
    REQUIRE(Contains(reply, "+OK"));
    for (auto& n : nodes)
      if (n->running()) REQUIRE(WaitFor([&] { return Contains(Ask(*n, "STREAM LIST"), name); }, 10s));
  }
  void FlushAll(const std::string& stream) {
    for (auto& n : nodes)
      if (n->running()) Ask(*n, "FLUSH " + stream);
  }
};

std::vector<std::string> Lines(int from, int to) {
  std::vector<std::string> out;
  for (int i = from; i < to; i++) out.push_back("rec-" + std::to_string(i));
  return out;
}

}  // namespace

TEST_CASE("Cluster: members and one stream catalog shared by every node", "[integration][cluster]") {
  if (std::string why = EtcdServer::Unavailable(); !why.empty()) SLUICE_SKIP(why.c_str());
  Cluster c;
  // Membership: every node sees the three, active, with their addresses.
  for (int i = 1; i <= 3; i++) {
    REQUIRE(WaitFor([&] {
      std::string nodes = Ask(c.node(i), "CLUSTER NODES");
      return Contains(nodes, "n1") && Contains(nodes, "n2") && Contains(nodes, "n3") &&
             !Contains(nodes, "down") && Contains(nodes, c.node(1).addr());
    }, 10s));
  }
  CHECK(Contains(Ask(c.node(2), "CLUSTER INFO"), "reachable"));

  // A stream created on node 1 is served by nodes 2 and 3.
  const auto created = std::chrono::steady_clock::now();
  REQUIRE(Contains(Ask(c.node(1), "STREAM CREATE shared buffering.interval_s 1 append_delimiter true directory.path " +
                                      c.shared + "/shared"),
                   "+OK"));
  for (int i = 2; i <= 3; i++) REQUIRE(WaitFor([&] { return Contains(Ask(c.node(i), "STREAM LIST"), "shared"); }, 10s));
  WARN("stream visible on nodes 2 and 3 after "
       << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - created).count()
       << " ms");
  // Puts to every node, delivered by the node that stored them, under names carrying its id.
  for (int i = 1; i <= 3; i++) REQUIRE(test::PutRecords(c.node(i).port(), "shared", Lines(i * 1000, i * 1000 + 300)) == 0);

  // An update on node 2 reaches node 3; an update against the old version then fails everywhere.
  REQUIRE(Contains(Ask(c.node(2), "STREAM UPDATE shared buffering.interval_s 2"), ":2"));
  REQUIRE(WaitFor([&] { return Contains(Ask(c.node(3), "STREAM DESCRIBE shared"), "interval_s\r\n$1\r\n2"); }, 10s));
  std::string stale = Ask(c.node(3), "STREAM UPDATE shared VERSION 1 buffering.interval_s 3");
  CHECK(Contains(stale, "-ERR"));
  CHECK(Contains(stale, "version"));

  // The Firehose API of node 3 creates a stream that node 1 serves.
  {
    const std::string body =
        R"({"DeliveryStreamName":"viaapi","DeliveryStreamType":"DirectPut","DirectoryDestinationConfiguration":{}})";
    test::RawSocket s(c.node(3).http_port());
    REQUIRE(s.connected());
    REQUIRE(s.Send("POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: Firehose_20150804.CreateDeliveryStream\r\n"
                   "Content-Type: application/x-amz-json-1.1\r\nContent-Length: " + std::to_string(body.size()) +
                   "\r\n\r\n" + body));
    bool closed = false;
    auto responses = test::ReadResponses(s, 1, &closed);
    REQUIRE(responses.size() == 1);
    INFO(responses[0]);
    CHECK(test::Status(responses[0]) == 200);
    REQUIRE(WaitFor([&] { return Contains(Ask(c.node(1), "STREAM LIST"), "viaapi"); }, 10s));
  }

  // Metrics carry the node label.
  CHECK(Contains(test::Body(test::HttpGet(c.node(2).http_port(), "/metrics")), "node=\"n2\""));

  // Delete on node 1: every node delivers what it holds, then the stream is gone everywhere.
  c.FlushAll("shared");
  REQUIRE(Contains(Ask(c.node(1), "STREAM DELETE shared"), "+OK"));
  for (int i = 1; i <= 3; i++)
    REQUIRE(WaitFor([&] { return !Contains(Ask(c.node(i), "STREAM LIST"), "shared"); }, 20s));
  std::string keys;
  REQUIRE(c.etcd.Ctl({"get", "--prefix", "--keys-only", "/sluice/"}, &keys) == 0);
  CHECK(!Contains(keys, "/sluice/streams/shared"));
  CHECK(!Contains(keys, "/sluice/drained/shared"));
  std::multiset<std::string> got;
  for (auto& r : test::DeliveredRecords(c.shared + "/shared")) got.insert(r);
  for (int i = 1; i <= 3; i++)
    for (auto& r : Lines(i * 1000, i * 1000 + 300)) CHECK(got.count(r) == 1);
  std::set<std::string> writers;
  for (auto& f : test::DeliveredFiles(c.shared + "/shared"))
    for (const char* n : {"-n1-", "-n2-", "-n3-"})
      if (Contains(f, n)) writers.insert(n);
  CHECK(writers.size() == 3);

  // A killed node leaves the member list within its lease, and shows as down.
  c.node(2).Kill();
  REQUIRE(WaitFor([&] {
    std::string nodes = Ask(c.node(1), "CLUSTER NODES");
    return Contains(nodes, "down");
  }, 15s));
}

TEST_CASE("Cluster: producers carry on while nodes are killed and restarted", "[integration][cluster]") {
  if (std::string why = EtcdServer::Unavailable(); !why.empty()) SLUICE_SKIP(why.c_str());
  Cluster c;
  c.CreateStream("load");
  // A producer on four connections with three seeds, fed 60,000 lines over about 6 s.
  const std::string acked = c.tmp.Sub("acked.txt");
  const std::string gen =
      "import sys,time\n"
      "for i in range(60000):\n"
      "  sys.stdout.write('line-%d\\n' % i)\n"
      "  if i % 1000 == 999: sys.stdout.flush(); time.sleep(0.1)\n";
  std::ofstream(c.tmp.Sub("gen.py")) << gen;
  const std::string cmd = "/usr/bin/python3 " + c.tmp.Sub("gen.py") + " | " + test::BinaryPath("sluice") +
                          " put --addr " + c.Seeds() + " --stream load --connections 4 --batch 100 --in-flight 2 "
                          "--acked-out " + acked;
  pid_t producer = test::SpawnCommand({"/bin/sh", "-c", cmd}, c.tmp.Sub("put.out"), c.tmp.Sub("put.err"));
  // Node 2 dies twice and comes back each time; node 3 once.
  std::this_thread::sleep_for(1s);
  c.node(2).Kill();
  std::this_thread::sleep_for(1s);
  REQUIRE(c.node(2).Start());
  std::this_thread::sleep_for(500ms);
  c.node(3).Kill();
  std::this_thread::sleep_for(1s);
  c.node(2).Kill();
  REQUIRE(c.node(3).Start());
  std::this_thread::sleep_for(500ms);
  REQUIRE(c.node(2).Start());
  int rc = test::WaitCommand(producer);
  INFO(test::ReadFile(c.tmp.Sub("put.err")));
  REQUIRE(rc == 0);
  CHECK(Contains(test::ReadFile(c.tmp.Sub("put.err")), "60000 acked"));

  // Every acknowledged line is delivered (some more than once: at-least-once).
  std::set<std::string> want;
  {
    std::ifstream in(acked);
    for (std::string l; std::getline(in, l);) want.insert("line-" + l);
  }
  REQUIRE(want.size() == 60000);
  std::set<std::string> got;
  REQUIRE(WaitFor([&] {
    c.FlushAll("load");
    got.clear();
    for (auto& r : test::DeliveredRecords(c.shared + "/load")) got.insert(r);
    return std::includes(got.begin(), got.end(), want.begin(), want.end());
  }, 60s));
  // The stream catalog is the same on every node at the end.
  // (Paths under each node's own data directory differ by the node's name only.)
  auto describe = [&](int i) {
    std::string d = Ask(c.node(i), "STREAM DESCRIBE load");
    for (size_t at; (at = d.find(c.node(i).data_dir())) != std::string::npos;) d.replace(at, c.node(i).data_dir().size(), "<data>");
    return d;
  };
  const std::string first = describe(1);
  CHECK(Contains(first, "version"));
  for (int i = 2; i <= 3; i++) CHECK(describe(i) == first);
}

TEST_CASE("Cluster: a dead node's backlog is adopted by another node, by hand and automatically", "[integration][cluster]") {
  if (std::string why = EtcdServer::Unavailable(); !why.empty()) SLUICE_SKIP(why.c_str());
  Cluster c;
  c.CreateStream("orphan");
  // Node 3 stores records that it cannot deliver yet (the stream is paused), then dies.
  REQUIRE(Contains(Ask(c.node(1), "PAUSE orphan"), "+OK"));
  REQUIRE(WaitFor([&] { return Contains(Ask(c.node(3), "STREAM DESCRIBE orphan"), "PAUSED"); }, 10s));
  REQUIRE(test::PutRecords(c.node(3).port(), "orphan", Lines(0, 500)) == 0);
  c.node(3).Kill();
  REQUIRE(Contains(Ask(c.node(1), "RESUME orphan"), "+OK"));
  REQUIRE(WaitFor([&] { return Contains(Ask(c.node(1), "CLUSTER NODES"), "down"); }, 15s));

  // Node 1 adopts it: a child sluiced delivers node 3's directory under node 3's names, then ends.
  std::string reply = Ask(c.node(1), "CLUSTER ADOPT n3");
  INFO(reply);
  REQUIRE(Contains(reply, "+OK"));
  REQUIRE(WaitFor([&] { return test::DeliveredRecords(c.shared + "/orphan").size() >= 500; }, 30s));
  std::multiset<std::string> got;
  for (auto& r : test::DeliveredRecords(c.shared + "/orphan")) got.insert(r);
  for (auto& r : Lines(0, 500)) CHECK(got.count(r) == 1);
  for (auto& f : test::DeliveredFiles(c.shared + "/orphan")) CHECK(Contains(f, "-n3-"));
  // The child releases the directory once it is empty; node 3 then starts again.
  REQUIRE(WaitFor([&] { return Contains(test::ReadFile(c.node(1).data_dir() + "/adopted-n3.log"), "stopped cleanly"); }, 30s));
  REQUIRE(c.node(3).Start());

  // Automatic: with cluster_auto_adopt_s, the lowest live node adopts a node down that long.
  std::ofstream(c.tmp.Sub("n1.toml")) << "cluster_lease_ttl_s = 2\ncluster_timeout_ms = 1000\ncluster_auto_adopt_s = 1\n";
  REQUIRE(c.node(1).Stop() == 0);
  REQUIRE(c.node(1).Start());
  REQUIRE(Contains(Ask(c.node(2), "PAUSE orphan"), "+OK"));
  REQUIRE(WaitFor([&] { return Contains(Ask(c.node(3), "STREAM DESCRIBE orphan"), "PAUSED"); }, 10s));
  REQUIRE(test::PutRecords(c.node(3).port(), "orphan", Lines(500, 800)) == 0);
  c.node(3).Kill();
  REQUIRE(Contains(Ask(c.node(2), "RESUME orphan"), "+OK"));
  REQUIRE(WaitFor([&] {
    std::set<std::string> all;
    for (auto& r : test::DeliveredRecords(c.shared + "/orphan")) all.insert(r);
    for (auto& r : Lines(500, 800))
      if (!all.count(r)) return false;
    return true;
  }, 40s));
  CHECK(Contains(test::ReadFile(c.node(1).data_dir() + "/adopted-n3.log"), "delivering the backlog of node n3"));
  // ... and its child releases the directory and ends once it is delivered (a child still
  // running when the test tears etcd and the nodes down would be left behind, orphaned).
  auto stops = [&] {
    const std::string log = test::ReadFile(c.node(1).data_dir() + "/adopted-n3.log");
    size_t n = 0;
    for (size_t at = log.find("stopped cleanly"); at != std::string::npos; at = log.find("stopped cleanly", at + 1)) n++;
    return n;
  };
  CHECK(WaitFor([&] { return stops() >= 2; }, 30s));
}

TEST_CASE("Cluster: a node whose data directory was taken over stops delivering", "[integration][cluster]") {
  if (std::string why = EtcdServer::Unavailable(); !why.empty()) SLUICE_SKIP(why.c_str());
  Cluster c("", 2);
  c.CreateStream("fenced");
  REQUIRE(Contains(Ask(c.node(1), "PAUSE fenced"), "+OK"));
  REQUIRE(WaitFor([&] { return Contains(Ask(c.node(2), "STREAM DESCRIBE fenced"), "PAUSED"); }, 10s));
  REQUIRE(test::PutRecords(c.node(2).port(), "fenced", Lines(0, 100)) == 0);
  // Another holder takes node 2's owner key (as an adopter would after its lease expired).
  REQUIRE(c.etcd.Ctl({"put", "/sluice/owners/n2", R"({"node":"n2","holder":"n1","since_ms":1})"}) == 0);
  REQUIRE(c.node(2).WaitExit() != 0);
  CHECK(Contains(c.node(2).log(), "FENCED"));
  // Its records were not delivered by it; they are still in its directory.
  REQUIRE(Contains(Ask(c.node(1), "RESUME fenced"), "+OK"));
  std::this_thread::sleep_for(2s);
  CHECK(test::DeliveredRecords(c.shared + "/fenced").empty());
  // It refuses to start while another holder has the directory.
  CHECK(!c.node(2).Start());
  CHECK(Contains(c.node(2).log(), "is being delivered by node n1"));
  // Released, it starts and delivers them.
  REQUIRE(c.etcd.Ctl({"del", "/sluice/owners/n2"}) == 0);
  REQUIRE(c.node(2).Start());
  REQUIRE(WaitFor([&] {
    c.FlushAll("fenced");
    return test::DeliveredRecords(c.shared + "/fenced").size() >= 100;
  }, 30s));
}

TEST_CASE("Cluster: with etcd down, puts and delivery go on and catalog changes are refused", "[integration][cluster]") {
  if (std::string why = EtcdServer::Unavailable(); !why.empty()) SLUICE_SKIP(why.c_str());
  Cluster c("", 2);
  c.CreateStream("steady");
  REQUIRE(test::PutRecords(c.node(1).port(), "steady", Lines(0, 200)) == 0);
  c.etcd.Kill();
  // Puts and deliveries do not need etcd.
  REQUIRE(test::PutRecords(c.node(1).port(), "steady", Lines(200, 400)) == 0);
  REQUIRE(test::PutRecords(c.node(2).port(), "steady", Lines(400, 600)) == 0);
  std::string refused = Ask(c.node(1), "STREAM CREATE other");
  INFO(refused);
  CHECK(Contains(refused, "-ERR"));
  CHECK(Contains(refused, "etcd"));
  REQUIRE(WaitFor([&] {
    c.FlushAll("steady");
    return test::DeliveredRecords(c.shared + "/steady").size() >= 600;
  }, 30s));
  // A node restarted while etcd is down runs on its local catalog.
  REQUIRE(c.node(2).Stop() == 0);
  REQUIRE(c.node(2).Start());
  REQUIRE(test::PutRecords(c.node(2).port(), "steady", Lines(600, 700)) == 0);
  // etcd back: changes work again and reach every node.
  REQUIRE(c.etcd.Start());
  REQUIRE(WaitFor([&] { return Contains(Ask(c.node(1), "STREAM CREATE other"), "+OK"); }, 20s));
  if (!WaitFor([&] { return Contains(Ask(c.node(2), "STREAM LIST"), "other"); }, 20s)) FAIL(c.node(2).log());
  REQUIRE(WaitFor([&] { return !Contains(Ask(c.node(1), "CLUSTER NODES"), "down"); }, 20s));
  REQUIRE(WaitFor([&] {
    c.FlushAll("steady");
    return test::DeliveredRecords(c.shared + "/steady").size() >= 700;
  }, 30s));
}

TEST_CASE("Cluster: values in etcd that Sluice did not write are refused whole", "[integration][cluster]") {
  if (std::string why = EtcdServer::Unavailable(); !why.empty()) SLUICE_SKIP(why.c_str());
  Cluster c("", 2);
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"/sluice/streams/junk", "not json"},
      {"/sluice/streams/mismatch", R"({"name":"other","version":1,"created_ms":1,"updated_ms":1,"paused":false,"deleting":false,"force_delete":false,"config":""})"},
      {"/sluice/streams/invalid", R"({"name":"invalid","version":1,"created_ms":1,"updated_ms":1,"paused":false,"deleting":false,"force_delete":false,"config":"destination = \"nowhere\"\n"})"},
      {"/sluice/streams/huge", R"({"name":"huge","version":99999999999,"created_ms":1,"updated_ms":1,"paused":false,"deleting":false,"force_delete":false,"config":""})"},
      {"/sluice/members/liar", R"({"node":"n1","put":"127.0.0.1:1","api":"","admin":"127.0.0.1:2","state":"active","started_ms":0,"updated_ms":0,"connections":0,"incoming_records":0,"backlog_bytes":0})"},
      {"/sluice/members/badaddr", R"({"node":"badaddr","put":"nowhere","api":"","admin":"x:0","state":"active","started_ms":0,"updated_ms":0,"connections":0,"incoming_records":0,"backlog_bytes":0})"},
      {"/sluice/owners/n1", "[]"},
      {"/sluice/drained/x", "1"},
      {"/sluice/drained/x/n1", "abc"},
      {"/sluice/nodes/evil", R"({"node":"evil","data_dir":"relative","joined_ms":0})"},
  };
  for (const auto& [k, v] : bad) REQUIRE(c.etcd.Ctl({"put", k, v}) == 0);
  std::this_thread::sleep_for(1s);
  for (int i = 1; i <= 2; i++) {
    INFO(c.node(i).log());
    std::string list = Ask(c.node(i), "STREAM LIST");
    for (const char* s : {"junk", "mismatch", "invalid", "huge", "other"}) CHECK(!Contains(list, s));
    std::string nodes = Ask(c.node(i), "CLUSTER NODES");
    CHECK(!Contains(nodes, "liar"));
    CHECK(!Contains(nodes, "badaddr"));
    CHECK(!Contains(nodes, "evil"));
    CHECK(Contains(c.node(i).log(), "ignoring etcd key"));
    CHECK(Contains(c.node(i).log(), "stream invalid from the cluster catalog"));
  }
  // The nodes still work: a real stream still propagates and takes records.
  c.CreateStream("fine", 2);
  REQUIRE(test::PutRecords(c.node(1).port(), "fine", Lines(0, 10)) == 0);
  // A member list from DescribeCluster holds only the real members.
  client::ClientOptions o;
  o.port = c.node(1).port();
  auto cl = client::Client::Connect(o);
  REQUIRE(cl.ok());
  auto d = cl.value()->DescribeCluster();
  REQUIRE(d.ok());
  CHECK(d->cluster);
  CHECK(d->node == "n1");
  REQUIRE(d->members.size() == 2);
  CHECK(d->members[0].address == c.node(1).addr());
}

TEST_CASE("Cluster: DescribeCluster on a single node answers with itself", "[integration][cluster]") {
  TempDir tmp;
  TestServer s(tmp.Sub("data"));
  REQUIRE(s.Start());
  client::ClientOptions o;
  o.port = s.port();
  auto cl = client::Client::Connect(o);
  REQUIRE(cl.ok());
  auto d = cl.value()->DescribeCluster();
  REQUIRE(d.ok());
  CHECK(!d->cluster);
  REQUIRE(d->members.size() == 1);
  CHECK(d->members[0].address == s.addr());
  // sluice put with several connections (the cluster path) against a single node.
  std::ofstream(tmp.Sub("in.txt")) << "a\nb\nc\n";
  std::string out, err;
  CHECK(test::RunCommand({test::BinaryPath("sluice"), "put", "--addr", s.addr(), "--connections", "2"}, &out, &err,
                         tmp.Sub("in.txt")) == 0);
  INFO(err);
  CHECK(Contains(err, "3 acked"));
}
