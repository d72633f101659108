// Shared test clients.
#include "tests/support/clients.h"

#include <algorithm>
#include <string_view>

#include "client-lib/client.h"
#include "tests/support/raw_socket.h"

namespace sluice::test {

std::string AdminAsk(uint16_t admin_port, const std::string& bytes) {
  RawSocket s(admin_port);
  if (!s.connected() || !s.Send(bytes)) return "";
  s.ShutdownWrite();
  bool closed = false;
  return s.ReadUntilClose(5000, &closed);
}

size_t PutRecords(uint16_t port, const std::string& stream, const std::vector<std::string>& records) {
  client::ClientOptions o;
  o.port = port;
  auto c = client::Client::Connect(o);
  if (!c.ok()) return records.size();
  size_t failed = 0;
  for (size_t off = 0; off < records.size(); off += 500) {
    std::vector<std::string_view> batch;
    for (size_t i = off; i < std::min(records.size(), off + 500); i++) batch.push_back(records[i]);
    auto r = c.value()->PutRecordBatch(stream, batch);
    failed += r.ok() ? r->failed_count : batch.size();
  }
  return failed;
}

bool SetPeerMode(uint16_t port, const std::string& mode, int n) {
  RawSocket s(port);
  if (!s.connected()) return false;
  std::string q = "/__mode?m=" + mode + (n >= 0 ? "&n=" + std::to_string(n) : "");
  if (!s.Send("GET " + q + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")) return false;
  bool closed = false;
  return s.ReadUntilClose(5000, &closed).find("200 OK") != std::string::npos;
}

}  // namespace sluice::test
