// A program outside the tree that uses the installed libsluice: puts two records (one empty)
// and prints their ids. Built by tests/install/check_install.sh with find_package and with
// pkg-config. Usage: put_one PORT
#include <sluice/sluice.h>

#include <cstdio>
#include <cstdlib>
#include <string>

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  sluice::Options options;
  options.port = static_cast<uint16_t>(std::atoi(argv[1]));
  auto producer = sluice::Producer::Connect(options);
  if (!producer) {
    std::fprintf(stderr, "connect: %s: %s\n", sluice::ErrorCodeName(producer.error().code),
                 producer.error().message.c_str());
    return 1;
  }
  auto out = (*producer)->PutRecordBatch("default", {"from an installed libsluice", ""});
  if (!out) {
    std::fprintf(stderr, "put: %s\n", out.error().message.c_str());
    return 1;
  }
  for (const auto& r : out->records) {
    if (!r.ok()) {
      std::fprintf(stderr, "record failed: %s: %s\n", r.error_name.c_str(), r.message.c_str());
      return 1;
    }
    std::printf("stored %llu\n", static_cast<unsigned long long>(r.record_id));
  }
  // A stream that does not exist fails per record, not retryable.
  auto bad = (*producer)->PutRecordBatch("no-such-stream", {"x"});
  if (!bad || bad->failed_count != 1 || bad->records[0].error_name != "UnknownStream" || bad->records[0].retryable) return 1;
  // The cluster client against a single server: it learns it is alone and stays on it.
  sluice::ClusterOptions co;
  co.seeds = {"127.0.0.1:" + std::string(argv[1])};
  auto cluster = sluice::ClusterProducer::Connect(co);
  if (!cluster) {
    std::fprintf(stderr, "cluster connect: %s\n", cluster.error().message.c_str());
    return 1;
  }
  auto id = (*cluster)->Send("default", {"through ClusterProducer"});
  auto done = (*cluster)->Receive();
  if (!id || !done || done->first != *id || done->second.failed_count != 0 || (*cluster)->in_flight() != 0) return 1;
  std::printf("cluster producer stored on %s\n", (*cluster)->node().c_str());
  std::printf("libsluice %s ok\n", sluice::Version());
  return 0;
}
