// The Firehose API's request and response bodies (AWS JSON 1.1, target prefix
// Firehose_20150804): parsing and validation of what producers send, and the JSON the AWS SDKs
// parse. No I/O: http_connection.cc calls these on the shard loop; unit tested on their own.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/stream_registry.h"

namespace sluice::server::http {

enum class Operation {
  kUnknown,
  kPutRecord,
  kPutRecordBatch,
  kDescribeDeliveryStream,
  kListDeliveryStreams,
  // The control plane: run on main's thread (control_plane.h).
  kCreateDeliveryStream,
  kDeleteDeliveryStream,
  kUpdateDestination,
  kTagDeliveryStream,
  kUntagDeliveryStream,
  kListTagsForDeliveryStream,  // answered from the stream snapshot, like Describe
  // Known to Firehose, not served by this version (answered InvalidArgumentException).
  kNotServed,
};
// From the X-Amz-Target header ("Firehose_20150804.PutRecordBatch").
Operation ParseOperation(std::string_view target);
// "PutRecordBatch" of "Firehose_20150804.PutRecordBatch" (the target itself without the prefix).
std::string_view OperationName(std::string_view target);

// An error as the SDKs read it: HTTP status, {"__type": type, "message": message}.
struct ApiError {
  int status = 400;
  std::string type;
  std::string message;
};
std::string ErrorBody(const ApiError& e);
ApiError Validation(std::string_view value, std::string_view member, std::string_view constraint);

// Firehose's limits (not adjustable there, so not here either).
inline constexpr size_t kMaxRecordsPerBatch = 500;
inline constexpr size_t kMaxRecordBytes = 1'024'000;       // decoded, per record
inline constexpr size_t kMaxBatchBytes = 4u << 20;         // decoded, per call

// PutRecord / PutRecordBatch input, decoded: record i is data[ends[i-1] .. ends[i]).
struct PutInput {
  std::string stream;
  std::string data;
  std::vector<uint32_t> ends;
  size_t count() const { return ends.size(); }
  std::string_view record(size_t i) const {
    size_t begin = i == 0 ? 0 : ends[i - 1];
    return std::string_view(data).substr(begin, ends[i] - begin);
  }
};
// Parses, base64-decodes and validates a PutRecord (batch = false) or PutRecordBatch body.
// When `body` has simdjson::SIMDJSON_PADDING bytes of spare capacity it is parsed in place,
// else copied once. nullopt on success.
std::optional<ApiError> ParsePutInput(const std::string& body, bool batch, PutInput* out);

// Sluice stream settings ("key value" pairs, as STREAM CREATE/UPDATE take them) from a
// CreateDeliveryStream body (`update` false) or an UpdateDestination body (`update` true: the
// <Kind>DestinationUpdate member). The destination kind is the registered kind whose Firehose
// configuration name is present ("ExtendedS3DestinationConfiguration" -> s3). Members Sluice
// has no use for (RoleARN, CloudWatchLoggingOptions, ...) are ignored; what it cannot honour is
// refused with InvalidArgumentException.
struct ControlInput {
  std::string stream;
  std::vector<std::pair<std::string, std::string>> settings;
  uint32_t expected_version = 0;  // UpdateDestination's CurrentDeliveryStreamVersionId
  bool force = false;             // DeleteDeliveryStream's AllowForceDelete
  std::map<std::string, std::string> tags;  // CreateDeliveryStream's and TagDeliveryStream's Tags
  std::vector<std::string> tag_keys;        // UntagDeliveryStream's TagKeys
};
std::optional<ApiError> ParseCreateInput(std::string_view body, ControlInput* out);
std::optional<ApiError> ParseUpdateInput(std::string_view body, ControlInput* out);
std::optional<ApiError> ParseDeleteInput(std::string_view body, ControlInput* out);
std::optional<ApiError> ParseTagInput(std::string_view body, ControlInput* out);
std::optional<ApiError> ParseUntagInput(std::string_view body, ControlInput* out);
std::optional<ApiError> ListTagsForDeliveryStream(std::string_view body, const StreamSet& streams, std::string* out);

// The stream's ARN, as DescribeDeliveryStream and the HTTP destination's X-Amz-Firehose-Source-Arn
// give it.
std::string StreamArn(std::string_view name);

// The body's DeliveryStreamName ("" when absent or not a string), for authorization before the
// operation runs; the operation itself validates it.
std::string StreamNameOf(std::string_view body);

// DescribeDeliveryStream and ListDeliveryStreams, answered from a stream snapshot. `visible`
// (may be null) filters the names listed (the streams an access key may use).
std::optional<ApiError> DescribeDeliveryStream(std::string_view body, const StreamSet& streams, std::string* out);
std::optional<ApiError> ListDeliveryStreams(std::string_view body, const StreamSet& streams, std::string* out,
                                            const std::function<bool(std::string_view)>& visible = nullptr);

}  // namespace sluice::server::http
