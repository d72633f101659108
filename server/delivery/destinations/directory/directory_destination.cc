// DirectoryDestination.
#include "server/delivery/destinations/directory/directory_destination.h"

#include "server/delivery/file_util.h"
#include "server/delivery/object_key.h"

namespace sluice::server {

DirectoryDestination::DirectoryDestination(std::string root, std::string prefix)
    : root_(std::move(root)), prefix_(EffectivePrefix(prefix)) {}

DeliveryResult DirectoryDestination::Deliver(const DeliveryObject& o) {
  PrefixContext ctx{o.oldest_arrival_ms, o.segment_id, ""};
  std::string relative = (o.partitioned ? std::string(o.partition_prefix) : EvaluatePrefix(prefix_, ctx)) +
                         ObjectName(o.stream, o.stream_version, o.oldest_arrival_ms, o.segment_id, o.extension);
  base::Status st = WriteFileUnder(root_, relative, o.body);
  // A path that would leave the root never becomes valid by retrying: straight to the backup.
  if (st.code() == base::Code::kInvalidArgument) return DeliveryResult::Fail(st.message());
  if (!st.ok()) return DeliveryResult::Retry(st.message());
  return DeliveryResult::Ok();
}

}  // namespace sluice::server
