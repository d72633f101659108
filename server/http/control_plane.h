// The Firehose API's control-plane operations (CreateDeliveryStream, DeleteDeliveryStream,
// UpdateDestination), run on main's thread against the same StreamControl the admin port uses,
// so API streams are the streams the admin port and the config file manage.
#pragma once

#include <string>
#include <string_view>

#include "server/admin/admin_services.h"
#include "server/http/firehose_api.h"

namespace sluice::server::http {

struct ControlResponse {
  int status = 200;
  std::string body;        // JSON
  std::string error_type;  // x-amzn-ErrorType ("" on success)
};

// Thread: main's (StreamControl is main's).
ControlResponse RunControl(Operation op, std::string_view body, admin::StreamControl& streams);

}  // namespace sluice::server::http
