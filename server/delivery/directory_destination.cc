// DirectoryDestination.
#include "server/delivery/directory_destination.h"

#include "server/delivery/file_util.h"
#include "server/delivery/object_key.h"

namespace sluice::server {

DirectoryDestination::DirectoryDestination(std::string root, std::string prefix)
    : root_(std::move(root)), prefix_(EffectivePrefix(prefix)) {}

DeliveryResult DirectoryDestination::Deliver(const DeliveryObject& o) {
  PrefixContext ctx{o.oldest_arrival_ms, o.segment_id, ""};
  std::string path = root_ + "/" + (o.partitioned ? std::string(o.partition_prefix) : EvaluatePrefix(prefix_, ctx)) +
                     ObjectName(o.stream, o.stream_version, o.oldest_arrival_ms, o.segment_id, o.extension);
  base::Status st = WriteFileAtomically(path, o.body);
  if (!st.ok()) return DeliveryResult::Retry(st.message());
  return DeliveryResult::Ok();
}

}  // namespace sluice::server
