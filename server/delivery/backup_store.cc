// BackupStore: segment file + error record per backed-up segment.
#include "server/delivery/backup_store.h"

#include <cstdio>

#include "protocol/segment_file.h"
#include "server/delivery/file_util.h"
#include "server/delivery/object_key.h"
#include "server/encoding/base64.h"
#include "server/encoding/json_escape.h"

namespace sluice::server {

BackupStore::BackupStore(std::string root, std::string error_prefix)
    : root_(std::move(root)), error_prefix_(EffectiveErrorPrefix(error_prefix)) {}

BackupStore::BackupStore(std::shared_ptr<ObjectStore> remote, std::string error_prefix)
    : error_prefix_(EffectiveErrorPrefix(error_prefix)), remote_(std::move(remote)) {}

base::Status BackupStore::Put(const std::string& relative, std::string_view bytes) const {
  if (remote_) return remote_->Upload(relative, bytes);
  return WriteFileUnder(root_, relative, bytes);
}

base::Status BackupStore::Write(std::string_view stream, const storage::SegmentDescriptor& d,
                                const std::vector<std::string_view>& records,
                                const BackupReason& why) const {
  std::string id = d.Id();
  PrefixContext ctx{d.oldest_arrival_ms, id, why.error_output_type};
  std::string base =
      EvaluatePrefix(error_prefix_, ctx) + ObjectName(stream, d.stream_version, d.oldest_arrival_ms, id, "");
  // One JSON line in the shape of Firehose's error records, for the whole segment.
  std::string json = "{\"attemptsMade\":" + std::to_string(d.attempts) +
                     ",\"arrivalTimestamp\":" + std::to_string(d.oldest_arrival_ms) +
                     ",\"errorCode\":\"" + JsonEscape(why.error_code) + "\",\"errorMessage\":\"" +
                     JsonEscape(why.error_message) + "\",\"attemptEndingTimestamp\":" +
                     std::to_string(why.now_ms) + ",\"errorOutputType\":\"" + JsonEscape(why.error_output_type) +
                     "\",\"deliveryStream\":\"" + JsonEscape(stream) + "\",\"streamVersion\":" +
                     std::to_string(d.stream_version) + ",\"segmentId\":\"" + id +
                     "\",\"recordCount\":" + std::to_string(records.size()) + ",\"bytes\":" +
                     std::to_string(d.bytes) + ",\"firstFailureTimestamp\":" + std::to_string(d.first_failure_ms) +
                     "}";
  proto::SegmentFileWriter w;
  w.Begin(stream, id, json);
  for (std::string_view r : records) w.Add(r);
  RETURN_IF_ERROR(Put(base + ".sseg", w.Finish()));
  return Put(base + ".json", json + "\n");
}

base::Status BackupStore::WriteRecordFailures(std::string_view stream, const storage::SegmentDescriptor& d,
                                              std::string_view type, const std::vector<RecordFailure>& failures,
                                              uint32_t attempts_made, std::string_view lambda_arn,
                                              int64_t now_ms) const {
  if (failures.empty()) return base::Status::Ok();
  std::string id = d.Id();
  PrefixContext ctx{d.oldest_arrival_ms, id, type};
  std::string base = EvaluatePrefix(error_prefix_, ctx) +
                     ObjectName(stream, d.stream_version, d.oldest_arrival_ms, id + "-" + std::string(type), "");
  std::string lines;
  proto::SegmentFileWriter w;
  std::string header = "{\"errorOutputType\":\"" + JsonEscape(type) + "\",\"deliveryStream\":\"" + JsonEscape(stream) +
                       "\",\"streamVersion\":" + std::to_string(d.stream_version) + ",\"segmentId\":\"" + id +
                       "\",\"recordCount\":" + std::to_string(failures.size()) + "}";
  w.Begin(stream, id, header);
  // Firehose's error record; format conversion's names the error lastErrorCode/lastErrorMessage
  // and adds the record's place and the table (here: the stream version whose schema refused it).
  const bool conversion = type == "format-conversion-failed";
  const std::string code_key = conversion ? "lastErrorCode" : "errorCode";
  const std::string message_key = conversion ? "lastErrorMessage" : "errorMessage";
  for (const RecordFailure& f : failures) {
    lines += "{\"attemptsMade\":" + std::to_string(attempts_made) + ",\"arrivalTimestamp\":" +
             std::to_string(f.arrival_ms) + ",\"" + code_key + "\":\"" + JsonEscape(f.code) + "\",\"" + message_key +
             "\":\"" + JsonEscape(f.message) + "\",\"attemptEndingTimestamp\":" + std::to_string(now_ms) + ",\"rawData\":\"";
    Base64Append(f.raw, &lines);
    lines += "\"";
    if (conversion)
      lines += ",\"sequenceNumber\":\"" + id + "\",\"subSequenceNumber\":" + std::to_string(f.index) +
               ",\"dataCatalogTable\":{\"catalogId\":null,\"databaseName\":null,\"tableName\":\"" +
               JsonEscape(stream) + "\",\"region\":null,\"versionId\":\"" + std::to_string(d.stream_version) +
               "\",\"catalogArn\":null}";
    if (!lambda_arn.empty()) lines += ",\"lambdaArn\":\"" + JsonEscape(lambda_arn) + "\"";
    lines += "}\n";
    w.Add(f.raw);
  }
  RETURN_IF_ERROR(Put(base + ".sseg", w.Finish()));
  return Put(base + ".json", lines);
}

}  // namespace sluice::server
