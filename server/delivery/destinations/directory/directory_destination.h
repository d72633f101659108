// DirectoryDestination: the embedded default; objects laid out like Firehose's S3 keys.
#pragma once

#include <string>

#include "server/delivery/destination.h"

namespace sluice::server {

// Writes <root>/<evaluated prefix><object name> atomically; a redelivered segment overwrites
// its own file. Any I/O failure (disk full, permissions) is kRetry: a local disk recovers.
// Thread: thread-safe (no mutable state).
class DirectoryDestination final : public Destination {
 public:
  // REQUIRES: `prefix` passed ValidatePrefix (it is used as EffectivePrefix(prefix)).
  DirectoryDestination(std::string root, std::string prefix);
  DeliveryResult Deliver(const DeliveryObject& object) override;
  std::string_view kind() const override { return "Directory"; }
  std::string_view error_output_type() const override { return "directory-failed"; }

 private:
  const std::string root_;
  const std::string prefix_;
};

}  // namespace sluice::server
