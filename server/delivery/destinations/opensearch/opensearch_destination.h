// OpenSearchDestination: records indexed as documents through the `_bulk` API of OpenSearch or
// Elasticsearch, as Firehose's OpenSearch Service destination does.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "base/mutex.h"
#include "server/delivery/destination.h"
#include "server/net/http_client.h"

namespace sluice::server {

enum class IndexRotation { kNoRotation, kOneHour, kOneDay, kOneWeek, kOneMonth };

struct OpenSearchOptions {
  std::string endpoint;   // https://search.example.com:9200 (no trailing /)
  std::string index;      // IndexName
  IndexRotation rotation = IndexRotation::kOneDay;
  std::string type_name;  // TypeName: Elasticsearch 6.x only ("" otherwise)
  bool document_ids = true;  // FIREHOSE_DEFAULT (stable ids) or NO_DOCUMENT_ID
  std::string username, password;  // HTTP Basic authentication when username is set
  size_t max_request_bytes = 10u << 20;  // bulk requests are cut at this size
  HttpClientOptions http;
};

// The index a document goes to: IndexName plus its arrival time per the rotation period
// (Firehose's suffixes: -yyyy-MM-dd-HH, -yyyy-MM-dd, -yyyy-'w'ww with US week numbers, -yyyy-MM).
std::string RotatedIndexName(std::string_view index, IndexRotation rotation, int64_t arrival_ms);

// Each request is `POST <endpoint>/_bulk` with `{"index":{"_index":..,"_id":..}}` and the record
// per document (documents must be one line of JSON; others are refused before sending). The
// answer is read item by item and must have one item per document: 2xx indexed; 429 and 5xx
// retried (only those documents: the ones already indexed or refused are remembered per segment
// while the process runs, and ids are stable, so a re-index after a restart replaces); any other
// status refused with the server's error type and reason (to the backup store). A whole request
// answered 429, 5xx, 401 or 403, a timeout or an answer that is not the API's is retried; other
// 4xx for the whole request (a bad index name) is permanent.
// Thread: thread-safe.
class OpenSearchDestination final : public Destination {
 public:
  explicit OpenSearchDestination(OpenSearchOptions options);
  DeliveryResult Deliver(const DeliveryObject& object) override;
  std::string_view kind() const override { return "AmazonOpenSearchService"; }
  std::string_view error_output_type() const override { return "opensearch-failed"; }
  bool needs_body() const override { return false; }

 private:
  // What earlier attempts of a segment settled: documents indexed, and those refused.
  struct Progress {
    std::set<uint32_t> done;
    std::vector<RejectedRecord> rejected;
  };

  const OpenSearchOptions options_;
  HttpClient client_;
  base::Mutex mu_;
  std::map<std::string, Progress> progress_ SLUICE_GUARDED_BY(mu_);  // by segment id, bounded
};

// Reads a bulk response for `ids` (the documents of the request, in order): sets, per document,
// 0 = indexed, 1 = retry, 2 = refused (with its message). False (with *error) when the body is
// not a bulk answer for exactly these documents.
bool ParseBulkResponse(std::string_view body, size_t documents, std::vector<int>* outcome,
                       std::vector<std::string>* messages, std::string* error);

}  // namespace sluice::server
