// Fuzz target: what etcd holds and answers is untrusted (another node's bug, an operator's
// etcdctl put, a different version). The decoders of the cluster's records and of the gateway's
// range, txn and watch answers must refuse anything malformed without crashing, and whatever they
// accept must satisfy the records' rules and survive an encode/decode round trip unchanged.
#include <cstdint>
#include <string>
#include <string_view>

#include "server/cluster/etcd_client.h"
#include "server/cluster/records.h"
#include "server/stream_config.h"

using namespace sluice::server::cluster;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 7) {
    case 0: {
      auto m = DecodeMember(in);
      if (!m.ok()) break;
      if (!IsValidNodeId(m->node) || !IsValidAddress(m->put) || !IsValidAddress(m->admin)) __builtin_trap();
      auto again = DecodeMember(Encode(*m));
      if (!again.ok() || Encode(*again) != Encode(*m)) __builtin_trap();
      break;
    }
    case 1: {
      auto n = DecodeNode(in);
      if (!n.ok()) break;
      if (!IsValidNodeId(n->node) || n->data_dir.empty() || n->data_dir[0] != '/') __builtin_trap();
      auto again = DecodeNode(Encode(*n));
      if (!again.ok() || Encode(*again) != Encode(*n)) __builtin_trap();
      break;
    }
    case 2: {
      auto s = DecodeStream(in);
      if (!s.ok()) break;
      if (!sluice::server::IsValidStreamName(s->name) || s->version == 0 || s->config.size() > kMaxStreamConfigBytes)
        __builtin_trap();
      auto again = DecodeStream(Encode(*s));
      if (!again.ok() || Encode(*again) != Encode(*s)) __builtin_trap();
      break;
    }
    case 3: {
      auto o = DecodeOwner(in);
      if (!o.ok()) break;
      if (!IsValidNodeId(o->node) || !IsValidNodeId(o->holder)) __builtin_trap();
      auto again = DecodeOwner(Encode(*o));
      if (!again.ok() || Encode(*again) != Encode(*o)) __builtin_trap();
      break;
    }
    case 4: {
      auto r = DecodeRange(in);
      if (!r.ok()) break;
      if (r->revision < 0) __builtin_trap();
      for (const KeyValue& kv : r->kvs)
        if (kv.key.empty() || kv.mod_revision < 0) __builtin_trap();
      break;
    }
    case 5:
      (void)DecodeTxn(in);
      break;
    case 6: {
      int64_t revision = -1;
      auto events = DecodeWatchLine(in, &revision);
      if (events.ok() && revision < 0) __builtin_trap();
      break;
    }
  }
  return 0;
}
