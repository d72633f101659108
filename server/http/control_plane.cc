// Control-plane operations: Firehose request -> Sluice settings -> StreamControl -> response.
#include "server/http/control_plane.h"

namespace sluice::server::http {
namespace {

ControlResponse Error(const ApiError& e) { return {e.status, ErrorBody(e), e.type}; }

// A refusal that says nothing about the request: in a cluster, etcd unreachable. The SDKs retry
// a 503 ServiceUnavailableException by themselves.
bool Unreachable(const base::Status& st) { return st.code() == base::Code::kUnavailable; }
ControlResponse Unavailable(const base::Status& st) { return Error({503, "ServiceUnavailableException", st.message()}); }

}  // namespace

ControlResponse RunControl(Operation op, std::string_view body, admin::StreamControl& streams) {
  ControlInput in;
  switch (op) {
    case Operation::kCreateDeliveryStream: {
      if (auto e = ParseCreateInput(body, &in)) return Error(*e);
      auto created = streams.CreateStream(in.stream, in.settings);
      if (!created.ok()) {
        if (Unreachable(created.status())) return Unavailable(created.status());
        const bool exists = created.status().code() == base::Code::kAlreadyExists;
        return Error({400, exists ? "ResourceInUseException" : "InvalidArgumentException", created.status().message()});
      }
      if (!in.tags.empty()) {
        auto tagged = streams.UpdateTags(in.stream, in.tags, {});
        if (!tagged.ok()) {
          (void)streams.DeleteStream(in.stream, false);  // nothing was put into it yet
          return Error({400, "InvalidArgumentException", tagged.status().message()});
        }
      }
      return {200, "{\"DeliveryStreamARN\":\"" + StreamArn(in.stream) + "\"}", ""};
    }
    case Operation::kUpdateDestination: {
      if (auto e = ParseUpdateInput(body, &in)) return Error(*e);
      StreamSetPtr set = streams.streams();
      const StreamInfo* s = set->Find(in.stream);
      if (s == nullptr)
        return Error({400, "ResourceNotFoundException", "Firehose " + in.stream + " under account 0 not found."});
      if (s->version != in.expected_version)
        return Error({400, "ConcurrentModificationException",
                      "Cannot update firehose: " + in.stream + " since the current version id: " +
                          std::to_string(s->version) + " and specified version id: " +
                          std::to_string(in.expected_version) + " do not match"});
      auto updated = streams.UpdateStream(in.stream, in.expected_version, in.settings);
      if (!updated.ok()) {
        if (Unreachable(updated.status())) return Unavailable(updated.status());
        const bool raced = updated.status().message().find("is not the stream's current version") != std::string::npos;
        return Error({400, raced ? "ConcurrentModificationException" : "InvalidArgumentException",
                      updated.status().message()});
      }
      return {200, "{}", ""};
    }
    case Operation::kDeleteDeliveryStream: {
      if (auto e = ParseDeleteInput(body, &in)) return Error(*e);
      base::Status st = streams.DeleteStream(in.stream, in.force);
      if (st.code() == base::Code::kNotFound)
        return Error({400, "ResourceNotFoundException", "Firehose " + in.stream + " under account 0 not found."});
      // Sluice never drops records: deleting a stream with undelivered records is refused (they
      // are delivered first; retry), unless AllowForceDelete moves them to its backup store.
      if (Unreachable(st)) return Unavailable(st);
      if (!st.ok()) return Error({400, "ResourceInUseException", st.message()});
      return {200, "{}", ""};
    }
    case Operation::kTagDeliveryStream:
    case Operation::kUntagDeliveryStream: {
      const bool tag = op == Operation::kTagDeliveryStream;
      if (auto e = tag ? ParseTagInput(body, &in) : ParseUntagInput(body, &in)) return Error(*e);
      auto done = streams.UpdateTags(in.stream, in.tags, in.tag_keys);
      if (done.status().code() == base::Code::kNotFound)
        return Error({400, "ResourceNotFoundException", "Firehose " + in.stream + " under account 0 not found."});
      if (!done.ok()) {
        if (Unreachable(done.status())) return Unavailable(done.status());
        const bool too_many = done.status().message().find("at most 50 tags") != std::string::npos;
        return Error({400, too_many ? "LimitExceededException" : "InvalidArgumentException", done.status().message()});
      }
      return {200, "{}", ""};
    }
    default:
      return Error({400, "UnknownOperationException", "not a control-plane operation"});
  }
}

}  // namespace sluice::server::http
