// HttpConnection: reads into HttpRequestParser, AWS JSON 1.1 dispatch, staged responses.
#include "server/http/http_connection.h"

#include <cstring>
#include <ctime>

#include "base/clock.h"
#include "base/log.h"
#include "server/encoding/json_escape.h"
#include "server/http/control_plane.h"
#include "server/http/sigv4.h"
#include "server/monitor/monitor.h"
#include "server/shard.h"
#include "storage/keys.h"

namespace sluice::server {
namespace {

constexpr size_t kReadChunk = 64 * 1024;
// A request body or receive buffer larger than this is freed after use instead of kept.
constexpr size_t kKeepBuffer = 1u << 20;

std::string_view Reason(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 431: return "Request Header Fields Too Large";
    case 503: return "Service Unavailable";
    default: return "Internal Server Error";
  }
}


// RFC 9110 IMF-fixdate of the current second (the SDKs correct their clock skew from it).
std::string HttpDate() {
  thread_local time_t cached_second = 0;
  thread_local char cached[40];
  time_t now = time(nullptr);
  if (now != cached_second) {
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(cached, sizeof cached, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    cached_second = now;
  }
  return cached;
}

// A complete response: status line, Content-Type, Content-Length, `headers` (lines ending in
// \r\n), Date, Connection: close when closing; the body unless it answers a HEAD.
std::string FormatHttp(int status, std::string_view content_type, std::string_view headers, std::string_view body,
                       bool close, bool head = false) {
  std::string out;
  out.reserve(200 + headers.size() + (head ? 0 : body.size()));
  out += "HTTP/1.1 " + std::to_string(status) + " " + std::string(Reason(status)) + "\r\n";
  out += "Content-Type: " + std::string(content_type) + "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  out.append(headers);
  out += "Date: " + HttpDate() + "\r\n";
  if (close) out += "Connection: close\r\n";
  out += "\r\n";
  if (!head) out.append(body);
  return out;
}

// An AWS JSON 1.1 response of the Firehose API.
std::string FormatResponse(int status, std::string_view body, bool close, std::string_view error_type,
                           uint64_t conn_id, uint64_t request) {
  std::string headers = "x-amzn-RequestId: " + std::to_string(conn_id) + "-" + std::to_string(request) + "\r\n";
  if (!error_type.empty()) headers += "x-amzn-ErrorType: " + std::string(error_type) + "\r\n";
  return FormatHttp(status, "application/x-amz-json-1.1", headers, body, close);
}

}  // namespace

HttpConnection::HttpConnection(Shard* shard, uint64_t id) : ShardConnection(shard, id) {}

// --- memory -------------------------------------------------------------------------------

void HttpConnection::SyncCharge() {
  SyncBufferCharge(in_.capacity() + parser_.request().body.capacity() + put_input_.data.capacity() +
                   put_input_.ends.capacity() * sizeof(uint32_t));
}

// --- reading ------------------------------------------------------------------------------

bool HttpConnection::WantRead() const { return ReadingAllowed() && !waiting_control_; }

void HttpConnection::OnAllocBuffer(uv_buf_t* buf) {
  if (in_begin_ == in_len_) in_begin_ = in_len_ = 0;
  if (in_.size() - in_len_ < kReadChunk) {
    if (in_begin_ > 0) {  // compact: what was parsed is not needed any more
      std::memmove(in_.data(), in_.data() + in_begin_, in_len_ - in_begin_);
      in_len_ -= in_begin_;
      in_begin_ = 0;
    }
    if (in_.size() - in_len_ < kReadChunk) {
      if (shard_->client_memory().Over() && in_.size() > in_len_) {
        // Over the budget: only the room already held.
      } else if (shard_->client_memory().Over()) {
        *buf = uv_buf_init(nullptr, 0);
        return;
      } else {
        in_.resize(in_len_ + kReadChunk);
      }
    }
  }
  *buf = uv_buf_init(in_.data() + in_len_, static_cast<unsigned>(in_.size() - in_len_));
  SyncCharge();
}

void HttpConnection::OnBytes(size_t n) {
  in_len_ += n;
  ProcessInput();
}

void HttpConnection::ProcessInput() {
  while (in_begin_ < in_len_ && !waiting_control_ && MayTakeRequest()) {
    size_t consumed = 0;
    const http::HttpRequestParser::Event event = parser_.Feed(in_.data() + in_begin_, in_len_ - in_begin_, &consumed);
    in_begin_ += consumed;
    if (event == http::HttpRequestParser::Event::kNeedMore) break;
    if (event == http::HttpRequestParser::Event::kContinue) {
      Staged s;
      s.bytes = "HTTP/1.1 100 Continue\r\n\r\n";
      Stage(std::move(s));
      parser_.Resume();
      continue;
    }
    if (event == http::HttpRequestParser::Event::kRequest) {
      HandleRequest();
      parser_.Resume();
      continue;
    }
    // Malformed HTTP, or over a limit: answer and close, as nothing after it can be framed.
    shard_->mutable_stats().protocol_errors.fetch_add(1, std::memory_order_relaxed);
    FailAndClose(parser_.error_status(), parser_.error_type(), parser_.error_message());
    break;
  }
  // A request that has begun must complete within read_timeout_s (CheckTimeouts).
  if (parser_.in_request() && request_since_ms_ == 0 && !close_after_drain_)
    request_since_ms_ = base::Clock::Real()->NowUnixMillis();
  if (in_begin_ == in_len_ && in_.size() > kKeepBuffer) {
    std::string().swap(in_);
    in_begin_ = in_len_ = 0;
  }
  SyncCharge();
}

// --- requests -----------------------------------------------------------------------------

void HttpConnection::HandleRequest() {
  request_since_ms_ = 0;
  const http::HttpRequest& req = parser_.request();
  const bool keep_alive = req.keep_alive;
  const bool head = req.method == HTTP_HEAD;
  if (req.method == HTTP_POST && req.url == "/") {
    Dispatch(keep_alive);
  } else if (req.method == HTTP_POST) {
    StageError({404, "UnknownOperationException", "the Firehose API is served at POST /, not " + req.url.substr(0, 128)},
               !keep_alive);
  } else if ((req.method == HTTP_GET || head) && (req.url == "/health" || req.url.rfind("/health?", 0) == 0)) {
    // Alive: this shard's loop answers. Served here, not on main, so a liveness probe does not
    // depend on main's queue (and keeps answering while shutdown drains).
    Staged s;
    s.bytes = FormatHttp(200, "text/plain; charset=utf-8", "", "ok\n", !keep_alive, head);
    s.close = !keep_alive;
    Stage(std::move(s));
  } else {
    HandleMonitor(keep_alive);
  }
  if (!keep_alive) {
    close_after_drain_ = true;
    UpdateReading();
  }
  // A large body's buffer is not kept while the connection idles.
  parser_.ReleaseBody(kKeepBuffer);
  if (put_input_.data.capacity() > kKeepBuffer) {
    std::string().swap(put_input_.data);
    std::vector<uint32_t>().swap(put_input_.ends);
  }
  SyncCharge();
}

void HttpConnection::Dispatch(bool keep_alive) {
  const http::HttpRequest& req = parser_.request();
  const http::Operation op = http::ParseOperation(req.target);
  // Signed requests only, once keys are configured: the signature first (a request that is not
  // signed right learns nothing else), then the key's rights on the operation and stream.
  const AccessKey* key = nullptr;
  const std::vector<AccessKey>& keys = shard_->cfg().access_keys;
  if (!keys.empty()) {
    http::ApiError e;
    http::SignedRequest signed_request{"POST", req.url, &req.headers, req.body};
    key = http::VerifySigV4(signed_request, keys, base::Clock::Real()->NowUnixMillis(), &e);
    if (key == nullptr) {
      shard_->mutable_stats().auth_failures.fetch_add(1, std::memory_order_relaxed);
      return StageError(e, !keep_alive);
    }
  }
  const std::string_view op_name = http::OperationName(req.target);
  switch (op) {
    case http::Operation::kPutRecord:
    case http::Operation::kPutRecordBatch:
      return HandlePut(op == http::Operation::kPutRecord, key);  // authorized once the stream is parsed
    case http::Operation::kDescribeDeliveryStream: {
      http::ApiError denied;
      if (key != nullptr && !http::Authorized(*key, op_name, http::StreamNameOf(req.body), &denied))
        return StageError(denied, !keep_alive);
      std::string out;
      if (auto err = http::DescribeDeliveryStream(req.body, *shard_->stream_view(), &out)) return StageError(*err, !keep_alive);
      return StageResponse(200, out, !keep_alive);
    }
    case http::Operation::kListDeliveryStreams: {
      http::ApiError denied;
      if (key != nullptr && !http::Authorized(*key, op_name, "", &denied)) return StageError(denied, !keep_alive);
      std::string out;
      auto visible = [&](std::string_view name) {
        http::ApiError ignored;
        return key == nullptr || http::Authorized(*key, op_name, name, &ignored);
      };
      if (auto err = http::ListDeliveryStreams(req.body, *shard_->stream_view(), &out, visible))
        return StageError(*err, !keep_alive);
      return StageResponse(200, out, !keep_alive);
    }
    case http::Operation::kListTagsForDeliveryStream: {
      http::ApiError denied;
      if (key != nullptr && !http::Authorized(*key, op_name, http::StreamNameOf(req.body), &denied))
        return StageError(denied, !keep_alive);
      std::string out;
      if (auto err = http::ListTagsForDeliveryStream(req.body, *shard_->stream_view(), &out))
        return StageError(*err, !keep_alive);
      return StageResponse(200, out, !keep_alive);
    }
    case http::Operation::kCreateDeliveryStream:
    case http::Operation::kDeleteDeliveryStream:
    case http::Operation::kUpdateDestination:
    case http::Operation::kTagDeliveryStream:
    case http::Operation::kUntagDeliveryStream: {
      http::ApiError denied;
      if (key != nullptr && !http::Authorized(*key, op_name, http::StreamNameOf(req.body), &denied))
        return StageError(denied, !keep_alive);
      return HandleControl(op, keep_alive);
    }
    case http::Operation::kNotServed: {
      http::ApiError denied;
      if (key != nullptr && !http::Authorized(*key, op_name, http::StreamNameOf(req.body), &denied))
        return StageError(denied, !keep_alive);
      return StageError({400, "InvalidArgumentException",
                         "server-side encryption is not supported: Sluice keeps records unencrypted in its data "
                         "directory (encrypt the disk it is on); " + req.target.substr(0, 128) + " is refused"},
                        !keep_alive);
    }
    case http::Operation::kUnknown:
      return StageError({400, "UnknownOperationException",
                         req.target.empty() ? "the request has no X-Amz-Target header (Firehose_20150804.<Operation>)"
                                             : "unknown operation " + req.target.substr(0, 128)},
                        !keep_alive);
  }
}

void HttpConnection::HandleControl(http::Operation op, bool keep_alive) {
  PostToMain(
      [op, close = !keep_alive, conn = id_, body = parser_.request().body](MainDoor* door) {
        http::ControlResponse r = http::RunControl(op, body, door->stream_control());
        return FormatResponse(r.status, r.body, close, r.error_type, conn, 0);
      },
      keep_alive, "");
}

void HttpConnection::PostToMain(std::function<std::string(MainDoor*)> answer, bool keep_alive,
                                std::string_view refusal_type) {
  MainDoor* door = shard_->main_door();
  const uint64_t token = ++control_tokens_;
  Shard* shard = shard_;
  const uint64_t conn = id_;
  // The request runs on main's thread; its answer comes back through the shard's queue and takes
  // this slot, so responses stay in request order. A connection gone by then drops it.
  auto run = [door, shard, conn, token, answer = std::move(answer)]() {
    std::string bytes = answer(door);
    shard->Post([shard, conn, token, bytes = std::move(bytes)]() mutable {
      shard->CompleteControl(conn, token, std::move(bytes));
    });
  };
  if (door == nullptr || !door->PostToMain(std::move(run))) {
    if (refusal_type.empty())
      return StageError({503, "ServiceUnavailableException", "the server is shutting down; retry"}, !keep_alive);
    Staged s;
    s.bytes = FormatHttp(503, refusal_type, "", "not ready: shutting down\n", !keep_alive);
    s.close = !keep_alive;
    return Stage(std::move(s));
  }
  Staged s;
  s.control = token;
  s.close = !keep_alive;
  s.charged = 1024;  // a bound of a control answer; a monitor answer is counted once queued to write
  Stage(std::move(s));
  // Requests after it are read once it is answered: a pipelined put may be for the stream it makes.
  waiting_control_ = true;
  UpdateReading();
}

void HttpConnection::HandleMonitor(bool keep_alive) {
  const http::HttpRequest& req = parser_.request();
  std::string authorization;
  for (const auto& [name, value] : req.headers)
    if (name == "authorization") authorization = value;
  const bool head = req.method == HTTP_HEAD;
  std::string method = llhttp_method_name(static_cast<llhttp_method_t>(req.method));
  PostToMain(
      [method = std::move(method), url = req.url, authorization = std::move(authorization), head,
       close = !keep_alive](MainDoor* door) {
        monitor::HttpAnswer a = door->monitor().Serve(method, url, authorization);
        return FormatHttp(a.status, a.content_type, a.headers, a.body, close, head);
      },
      keep_alive, "text/plain; charset=utf-8");
}

void HttpConnection::CompleteControl(uint64_t token, std::string response) {
  for (Staged& s : staged_) {
    if (s.control != token) continue;
    s.control = 0;
    s.bytes = std::move(response);
    shard_->MarkDirty(this);
    waiting_control_ = false;
    ProcessInput();
    UpdateReading();
    return;
  }
}

void HttpConnection::HandlePut(bool single, const AccessKey* key) {
  shard_->mutable_stats().put_requests.fetch_add(1, std::memory_order_relaxed);
  const bool keep_alive = parser_.request().keep_alive;
  if (auto err = http::ParsePutInput(parser_.request().body, !single, &put_input_)) {
    StageError(*err, !keep_alive);
    return;
  }
  http::ApiError denied;
  if (key != nullptr && !http::Authorized(*key, single ? "PutRecord" : "PutRecordBatch", put_input_.stream, &denied)) {
    StageError(denied, !keep_alive);
    return;
  }
  Staged s;
  s.is_put = true;
  s.single = single;
  s.close = !keep_alive;
  const http::PutInput& in = put_input_;
  s.put = shard_->puts().StageRecords(
      in.stream, static_cast<uint32_t>(in.count()),
      [&](uint32_t i) {
        std::string_view r = in.record(i);
        return std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(r.data()), r.size());
      },
      base::Clock::Real()->NowUnixMillis());
  // A bound of the response: headers, and per record an id or an error with its message.
  s.charged = 512 + 48 * size_t(s.put.record_count) + s.put.all_failed_message.size();
  for (const auto& r : s.put.rejected) s.charged += 64 + r.message.size();
  Stage(std::move(s));
}

std::string HttpConnection::PutResponse(const Staged& s, const base::Status& commit, int* status,
                                        std::string* error_type) const {
  const StagedPut& put = s.put;
  auto error = [&](int st, std::string_view type, std::string_view message) {
    *status = st;
    *error_type = std::string(type);
    return http::ErrorBody({st, std::string(type), std::string(message)});
  };
  if (put.all_failed == proto::WireError::kUnknownStream)
    return error(400, "ResourceNotFoundException", put.all_failed_message);
  if (put.all_failed != proto::WireError::kOk) return error(400, "ResourceInUseException", put.all_failed_message);
  // Nothing of this request was stored when the commit failed: the whole call is retryable.
  if (!commit.ok() && put.seq != 0)
    return error(503, "ServiceUnavailableException", "records not stored: " + commit.ToString());
  if (s.single) {
    if (!put.rejected.empty()) return error(400, "InvalidArgumentException", put.rejected[0].message);
    *status = 200;
    char id[24];
    std::snprintf(id, sizeof id, "%016llx",
                  static_cast<unsigned long long>(storage::MakeRecordId(shard_->id(), put.seq, 0)));
    return std::string("{\"RecordId\":\"") + id + "\",\"Encrypted\":false}";
  }
  *status = 200;
  std::string out = "{\"FailedPutCount\":" + std::to_string(put.failed_count()) + ",\"Encrypted\":false,\"RequestResponses\":[";
  out.reserve(out.size() + 32 * size_t(put.record_count));
  size_t next_rejected = 0;
  uint32_t index = 0;
  for (uint32_t i = 0; i < put.record_count; i++) {
    if (i) out.push_back(',');
    if (next_rejected < put.rejected.size() && put.rejected[next_rejected].index == i) {
      out += "{\"ErrorCode\":\"InvalidArgumentException\",\"ErrorMessage\":\"" +
             JsonEscape(put.rejected[next_rejected++].message) + "\"}";
      continue;
    }
    char id[48];
    std::snprintf(id, sizeof id, "{\"RecordId\":\"%016llx\"}",
                  static_cast<unsigned long long>(storage::MakeRecordId(shard_->id(), put.seq, index++)));
    out += id;
  }
  out += "]}";
  return out;
}

// --- responses ----------------------------------------------------------------------------

void HttpConnection::Stage(Staged s) {
  if (s.charged == 0) s.charged = s.bytes.size();
  ChargeStaged(static_cast<int64_t>(s.charged));
  staged_.push_back(std::move(s));
  shard_->MarkDirty(this);
}

void HttpConnection::StageResponse(int status, std::string_view body, bool close, std::string_view error_type) {
  Staged s;
  s.bytes = FormatResponse(status, body, close, error_type, id_, ++responses_);
  s.close = close;
  Stage(std::move(s));
}

void HttpConnection::StageError(const http::ApiError& e, bool close) {
  SLUICE_LOG_DEBUG("http", "shard %u conn %lu: %d %s: %s", shard_->id(), static_cast<unsigned long>(id_), e.status,
                   e.type.c_str(), e.message.c_str());
  StageResponse(e.status, http::ErrorBody(e), close, e.type);
}

void HttpConnection::FailAndClose(int status, std::string_view type, std::string_view message) {
  StageError({status, std::string(type), std::string(message)}, true);
  close_after_drain_ = true;
  request_since_ms_ = 0;
  UpdateReading();
}

void HttpConnection::Flush(const base::Status& commit) {
  if (staged_.empty()) return;
  std::string out;
  ShardStats& stats = shard_->mutable_stats();
  size_t charged = 0, sent = 0;
  bool held = false;  // a control answer is still out: what follows it waits, in order
  const int64_t now_ns = base::Clock::Real()->NowMonoNanos();
  for (Staged& s : staged_) {
    if (s.is_put) {
      stats.put_ack_latency.ObserveMicros((now_ns - s.put.staged_mono_ns) / 1000);
      // Answered from this commit whether it is sent now or after a control answer before it.
      int status = 200;
      std::string error_type;
      std::string body = PutResponse(s, commit, &status, &error_type);
      s.bytes = FormatResponse(status, body, s.close, error_type, id_, ++responses_);
      s.is_put = false;
      const uint32_t accepted = s.put.record_count - s.put.failed_count();
      stats.records_failed.fetch_add(s.put.failed_count() + (commit.ok() ? 0 : accepted), std::memory_order_relaxed);
      if (commit.ok()) {
        stats.records_stored.fetch_add(accepted, std::memory_order_relaxed);
        stats.bytes_stored.fetch_add(s.put.accepted_bytes, std::memory_order_relaxed);
      }
    }
    held |= s.control != 0;
    if (held) continue;
    out += s.bytes;
    charged += s.charged;
    sent++;
  }
  staged_.erase(staged_.begin(), staged_.begin() + static_cast<std::ptrdiff_t>(sent));
  ChargeStaged(-static_cast<int64_t>(charged));
  SendFlushed(std::move(out));
}

void HttpConnection::CheckTimeouts(int64_t now_ms) {
  if (closing()) return;
  const ServerConfig& cfg = shard_->cfg();
  // Only a request still arriving can time out; one held back by the server's own
  // backpressure is complete (request_since_ms_ is cleared once it is dispatched).
  if (request_since_ms_ != 0 && !close_after_drain_ && !paused_for_budget_ && !paused_for_memory_ &&
      !paused_for_output_ && now_ms - request_since_ms_ > int64_t(cfg.read_timeout_s) * 1000) {
    shard_->mutable_stats().timeouts.fetch_add(1, std::memory_order_relaxed);
    SLUICE_LOG_INFO("http", "shard %u conn %lu: closing: a request began and did not complete within read_timeout_s %u",
                    shard_->id(), static_cast<unsigned long>(id_), cfg.read_timeout_s);
    FailAndClose(408, "RequestTimeout",
                 "the request was not complete within read_timeout_s (" + std::to_string(cfg.read_timeout_s) + " s)");
    return;
  }
  if (CloseIfWriteStalled(static_cast<uint64_t>(now_ms), uint64_t(cfg.write_timeout_s) * 1000, "a Firehose API client"))
    shard_->mutable_stats().timeouts.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace sluice::server
