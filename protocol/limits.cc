// Limits validation.
#include "protocol/limits.h"

#include <string>

namespace sluice::proto {

base::Status Limits::Validate() const {
  if (max_batch_records < 1 || max_batch_records > kMaxBatchRecordsCap)
    return base::InvalidArgument("max_batch_records must be 1.." + std::to_string(kMaxBatchRecordsCap) +
                                 ", got " + std::to_string(max_batch_records));
  if (max_batch_bytes < 1024 || max_batch_bytes > kMaxBatchBytesCap)
    return base::InvalidArgument("max_batch_bytes must be 1024.." + std::to_string(kMaxBatchBytesCap) +
                                 ", got " + std::to_string(max_batch_bytes));
  if (max_record_bytes < 1 || max_record_bytes > max_batch_bytes)
    return base::InvalidArgument("max_record_bytes must be 1..max_batch_bytes (" +
                                 std::to_string(max_batch_bytes) + "), got " +
                                 std::to_string(max_record_bytes));
  return base::Status::Ok();
}

}  // namespace sluice::proto
