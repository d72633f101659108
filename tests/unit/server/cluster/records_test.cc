#include <catch2/catch.hpp>

#include "server/cluster/etcd_client.h"
#include "server/cluster/records.h"
#include "server/config.h"

using namespace sluice::server;
using namespace sluice::server::cluster;

TEST_CASE("Cluster records: encode and decode round trip", "[server][cluster]") {
  MemberRecord m{"n-1.a_b", "10.0.0.1:7410", "10.0.0.1:7412", "[::1]:7411", "draining", 1, 2, 3, 4, 5};
  auto md = DecodeMember(Encode(m));
  REQUIRE(md.ok());
  CHECK(Encode(*md) == Encode(m));
  CHECK(md->state == "draining");
  CHECK(md->backlog_bytes == 5);

  StreamRecord s{"clicks", 7, 100, 200, true, true, false, "name = \"clicks\"\ndestination = \"directory\"\n\"quoted\\\"\"\n"};
  auto sd = DecodeStream(Encode(s));
  REQUIRE(sd.ok());
  CHECK(sd->config == s.config);
  CHECK(sd->version == 7);
  CHECK(sd->paused);
  CHECK(sd->deleting);

  auto nd = DecodeNode(Encode(NodeRecord{"n2", "/var/lib/sluice", 9}));
  REQUIRE(nd.ok());
  CHECK(nd->data_dir == "/var/lib/sluice");
  auto od = DecodeOwner(Encode(OwnerRecord{"n2", "n1", 9}));
  REQUIRE(od.ok());
  CHECK(od->holder == "n1");
}

TEST_CASE("Cluster records: a value with one bad field is refused whole, naming it", "[server][cluster]") {
  const std::string good =
      R"({"node":"n1","put":"127.0.0.1:1","api":"","admin":"127.0.0.1:2","state":"active","started_ms":0,"updated_ms":0,"connections":0,"incoming_records":0,"backlog_bytes":0})";
  REQUIRE(DecodeMember(good).ok());
  struct Case {
    std::string from, to, field;
  };
  for (const Case& c : std::vector<Case>{{"\"n1\"", "\"../x\"", "node"},
                                         {"\"127.0.0.1:1\"", "\"127.0.0.1:0\"", "put"},
                                         {"\"127.0.0.1:1\"", "\"host\"", "put"},
                                         {"\"127.0.0.1:2\"", "\"a b:2\"", "admin"},
                                         {"\"active\"", "\"asleep\"", "state"},
                                         {"\"started_ms\":0", "\"started_ms\":-1", "started_ms"},
                                         {"\"connections\":0", "\"connections\":\"0\"", "connections"}}) {
    std::string bad = good;
    bad.replace(bad.find(c.from), c.from.size(), c.to);
    auto r = DecodeMember(bad);
    INFO(bad);
    REQUIRE(!r.ok());
    CHECK(r.status().message().find(c.field) != std::string::npos);
  }
  CHECK(!DecodeMember("").ok());
  CHECK(!DecodeMember("[]").ok());
  CHECK(!DecodeMember(std::string(70000, ' ')).ok());
  CHECK(!DecodeStream(R"({"name":".hidden","version":1,"created_ms":0,"updated_ms":0,"paused":false,"deleting":false,"force_delete":false,"config":""})").ok());
  CHECK(!DecodeStream(R"({"name":"a","version":0,"created_ms":0,"updated_ms":0,"paused":false,"deleting":false,"force_delete":false,"config":""})").ok());
  CHECK(!DecodeNode(R"({"node":"n1","data_dir":"relative","joined_ms":0})").ok());
  CHECK(!DecodeOwner(R"({"node":"n1","holder":"","since_ms":0})").ok());
}

TEST_CASE("Cluster records: node ids and addresses", "[server][cluster]") {
  CHECK(IsValidNodeId("node-1.eu_west"));
  CHECK(!IsValidNodeId(""));
  CHECK(!IsValidNodeId(".n"));
  CHECK(!IsValidNodeId("a/b"));
  CHECK(!IsValidNodeId(std::string(65, 'a')));
  CHECK(IsValidAddress("example.com:7410"));
  CHECK(IsValidAddress("[::1]:7410"));
  CHECK(!IsValidAddress(":7410"));
  CHECK(!IsValidAddress("host:"));
  CHECK(!IsValidAddress("host:65536"));
  CHECK(!IsValidAddress("host:+80"));
  CHECK(!IsValidAddress("ho st:80"));
}

TEST_CASE("etcd gateway answers: range, txn and watch lines are checked", "[server][cluster]") {
  auto r = DecodeRange(R"({"header":{"revision":"7"},"kvs":[{"key":"L3MvYQ==","create_revision":"2","mod_revision":"6","version":"3","value":"aGVsbG8=","lease":"99"}],"count":"1"})");
  REQUIRE(r.ok());
  CHECK(r->revision == 7);
  REQUIRE(r->kvs.size() == 1);
  CHECK(r->kvs[0].key == "/s/a");
  CHECK(r->kvs[0].value == "hello");
  CHECK(r->kvs[0].lease == 99);
  CHECK(DecodeRange(R"({"header":{"revision":"7"}})")->kvs.empty());  // no keys: kvs left out
  CHECK(!DecodeRange(R"({"kvs":[]})").ok());                           // no header
  CHECK(!DecodeRange(R"({"header":{"revision":"7"},"kvs":[{"key":"!!!"}]})").ok());  // not base64
  CHECK(!DecodeRange(R"({"header":{"revision":"x"}})").ok());

  auto t = DecodeTxn(R"({"header":{"revision":"9"},"succeeded":true})");
  REQUIRE(t.ok());
  CHECK(t->succeeded);
  CHECK(!DecodeTxn(R"({"header":{"revision":"9"}})")->succeeded);  // false is left out
  CHECK(!DecodeTxn(R"({"header":{"revision":"9"},"succeeded":"yes"})").ok());

  int64_t rev = 0;
  auto w = DecodeWatchLine(
      R"({"result":{"header":{"revision":"4"},"events":[{"kv":{"key":"L3MvYQ==","mod_revision":"3","value":"eA=="}},{"type":"DELETE","kv":{"key":"L3MvYQ==","mod_revision":"4"}}]}})",
      &rev);
  REQUIRE(w.ok());
  CHECK(rev == 4);
  REQUIRE(w->size() == 2);
  CHECK(!(*w)[0].deleted);
  CHECK((*w)[1].deleted);
  CHECK(DecodeWatchLine(R"({"result":{"header":{"revision":"2"},"created":true}})", &rev)->empty());
  CHECK(DecodeWatchLine(R"({"result":{"header":{"revision":"2"},"canceled":true}})", &rev).status().code() ==
        sluice::base::Code::kUnavailable);
  CHECK(DecodeWatchLine(R"({"result":{"header":{"revision":"2"},"compact_revision":"1"}})", &rev).status().code() ==
        sluice::base::Code::kUnavailable);
  CHECK(!DecodeWatchLine(R"({"result":{"header":{"revision":"2"},"events":[{"type":"EXPLODE","kv":{"key":"YQ=="}}]}})", &rev).ok());

  CHECK(PrefixEnd("/sluice/") == "/sluice0");
  CHECK(PrefixEnd(std::string("a\xff", 2)) == "b");
}

TEST_CASE("ServerConfig: cluster settings are checked", "[server][cluster]") {
  auto load = [](const std::string& text) {
    ServerConfig cfg;
    sluice::base::Status st = LoadConfigText(text, "c.toml", &cfg);
    if (st.ok()) {
      cfg.ApplyDefaults();
      st = cfg.Validate();
    }
    return st;
  };
  CHECK(load("cluster_endpoints = [\"http://127.0.0.1:2379\"]\nnode_id = \"n1\"\n").ok());
  auto st = load("cluster_endpoints = [\"http://127.0.0.1:2379\"]\n");
  CHECK(st.message().find("node_id") != std::string::npos);
  st = load("cluster_endpoints = [\"http://127.0.0.1:2379\"]\nnode_id = \"n1\"\nbind = \"0.0.0.0\"\n");
  CHECK(st.message().find("advertise") != std::string::npos);
  CHECK(load("cluster_endpoints = [\"http://127.0.0.1:2379\"]\nnode_id = \"n1\"\nbind = \"0.0.0.0\"\nadvertise = \"10.0.0.1:7410\"\n").ok());
  st = load("cluster_endpoints = [\"http://127.0.0.1:2379\"]\nnode_id = \"n1\"\ncluster_lease_ttl_s = 1\n");
  CHECK(st.message().find("c.toml:3") != std::string::npos);
  st = load("cluster_endpoints = [\"https://127.0.0.1:2379\"]\nnode_id = \"n1\"\n");
  CHECK(st.message().find("http://") != std::string::npos);
  st = load("cluster_endpoints = [\"http://e\"]\nnode_id = \"n1\"\ncluster_prefix = \"sluice\"\n");
  CHECK(st.message().find("cluster_prefix") != std::string::npos);
  CHECK(!load("cluster_endpoints = []\n").ok());
}
