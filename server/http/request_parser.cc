// HttpRequestParser: llhttp callbacks into one HttpRequest, with the port's limits.
#include "server/http/request_parser.h"

#include <simdjson.h>

#include <cctype>

namespace sluice::server::http {
namespace {

bool EqualsLower(std::string_view a, std::string_view lower) {
  if (a.size() != lower.size()) return false;
  for (size_t i = 0; i < a.size(); i++)
    if (std::tolower(static_cast<unsigned char>(a[i])) != lower[i]) return false;
  return true;
}

HttpRequestParser* Self(llhttp_t* p) { return static_cast<HttpRequestParser*>(p->data); }

}  // namespace

const llhttp_settings_t& HttpRequestParser::Settings() {
  static const llhttp_settings_t settings = [] {
    llhttp_settings_t s;
    llhttp_settings_init(&s);
    s.on_message_begin = OnMessageBegin;
    s.on_url = OnUrl;
    s.on_header_field = OnHeaderField;
    s.on_header_value = OnHeaderValue;
    s.on_header_value_complete = OnHeaderValueComplete;
    s.on_headers_complete = OnHeadersComplete;
    s.on_body = OnBody;
    s.on_message_complete = OnMessageComplete;
    return s;
  }();
  return settings;
}

HttpRequestParser::HttpRequestParser() {
  llhttp_init(&parser_, HTTP_REQUEST, &Settings());
  parser_.data = this;
}

int HttpRequestParser::Refuse(int status, std::string message) {
  error_status_ = status;
  error_type_ = "SerializationException";
  error_message_ = std::move(message);
  return -1;
}

HttpRequestParser::Event HttpRequestParser::Feed(const char* data, size_t size, size_t* consumed) {
  *consumed = 0;
  if (failed_) return Event::kError;
  if (complete_ || paused_for_continue_) return complete_ ? Event::kRequest : Event::kContinue;
  llhttp_errno_t err = llhttp_execute(&parser_, data, size);
  if (err == HPE_OK) {
    *consumed = size;
    return Event::kNeedMore;
  }
  if ((err == HPE_PAUSED || err == HPE_PAUSED_UPGRADE) && (complete_ || paused_for_continue_)) {
    *consumed = static_cast<size_t>(llhttp_get_error_pos(&parser_) - data);
    if (err == HPE_PAUSED_UPGRADE) {
      // This port speaks HTTP/1.1 only: the request is answered, then the stream ends.
      upgrade_ = true;
      req_.keep_alive = false;
    }
    return complete_ ? Event::kRequest : Event::kContinue;
  }
  failed_ = true;
  if (error_status_ == 0) {
    const char* reason = llhttp_get_error_reason(&parser_);
    error_status_ = 400;
    error_type_ = "SerializationException";
    error_message_ = std::string("malformed HTTP request: ") + llhttp_errno_name(err) + ": " + (reason ? reason : "");
  }
  return Event::kError;
}

void HttpRequestParser::Resume() {
  if (paused_for_continue_) {
    paused_for_continue_ = false;
    llhttp_resume(&parser_);
    return;
  }
  if (!complete_) return;
  complete_ = false;
  started_ = false;
  if (upgrade_) {
    failed_ = true;  // nothing after an Upgrade request is HTTP/1.1
    error_status_ = 400;
    error_type_ = "SerializationException";
    error_message_ = "protocol upgrades are not supported";
    return;
  }
  llhttp_resume(&parser_);
}

void HttpRequestParser::ReleaseBody(size_t keep_up_to) {
  if (req_.body.capacity() > keep_up_to) std::string().swap(req_.body);
  req_.body.clear();
}

int HttpRequestParser::OnMessageBegin(llhttp_t* p) {
  HttpRequestParser* self = Self(p);
  std::string body = std::move(self->req_.body);  // keep the allocation for the next body
  body.clear();
  self->req_ = HttpRequest{};
  self->req_.body = std::move(body);
  self->field_.clear();
  self->value_.clear();
  self->header_bytes_ = 0;
  self->header_count_ = 0;
  self->started_ = true;
  return 0;
}

int HttpRequestParser::OnUrl(llhttp_t* p, const char* at, size_t n) {
  HttpRequestParser* self = Self(p);
  if (self->req_.url.size() + n > RequestLimits::kMaxUrlBytes)
    return self->Refuse(414, "the request target is longer than " + std::to_string(RequestLimits::kMaxUrlBytes) + " bytes");
  self->req_.url.append(at, n);
  return 0;
}

int HttpRequestParser::OnHeaderField(llhttp_t* p, const char* at, size_t n) {
  HttpRequestParser* self = Self(p);
  self->header_bytes_ += n;
  if (self->header_bytes_ > RequestLimits::kMaxHeaderBytes)
    return self->Refuse(431, "the request headers are larger than " + std::to_string(RequestLimits::kMaxHeaderBytes) + " bytes");
  self->field_.append(at, n);
  return 0;
}

int HttpRequestParser::OnHeaderValue(llhttp_t* p, const char* at, size_t n) {
  HttpRequestParser* self = Self(p);
  self->header_bytes_ += n;
  if (self->header_bytes_ > RequestLimits::kMaxHeaderBytes)
    return self->Refuse(431, "the request headers are larger than " + std::to_string(RequestLimits::kMaxHeaderBytes) + " bytes");
  self->value_.append(at, n);
  return 0;
}

int HttpRequestParser::OnHeaderValueComplete(llhttp_t* p) {
  HttpRequestParser* self = Self(p);
  if (++self->header_count_ > RequestLimits::kMaxHeaders)
    return self->Refuse(431, "the request has more than " + std::to_string(RequestLimits::kMaxHeaders) + " headers");
  HttpRequest& r = self->req_;
  if (EqualsLower(self->field_, "x-amz-target")) r.target = self->value_;
  else if (EqualsLower(self->field_, "expect")) r.expect_continue = EqualsLower(self->value_, "100-continue");
  for (char& ch : self->field_) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  r.headers.emplace_back(std::move(self->field_), std::move(self->value_));
  self->field_.clear();
  self->value_.clear();
  return 0;
}

int HttpRequestParser::OnHeadersComplete(llhttp_t* p) {
  HttpRequestParser* self = Self(p);
  self->req_.method = llhttp_get_method(p);
  if ((p->flags & F_CONTENT_LENGTH) && p->content_length > RequestLimits::kMaxBodyBytes)
    return self->Refuse(413, "the request body of " + std::to_string(p->content_length) + " bytes is larger than " +
                                 std::to_string(RequestLimits::kMaxBodyBytes));
  // The whole body at once (and room for simdjson's padding), so it is never copied to grow.
  if (p->flags & F_CONTENT_LENGTH) self->req_.body.reserve(p->content_length + simdjson::SIMDJSON_PADDING);
  if (self->req_.expect_continue) {
    self->paused_for_continue_ = true;
    return HPE_PAUSED;
  }
  return 0;
}

int HttpRequestParser::OnBody(llhttp_t* p, const char* at, size_t n) {
  HttpRequestParser* self = Self(p);
  if (self->req_.body.size() + n > RequestLimits::kMaxBodyBytes)  // chunked bodies are counted as they come
    return self->Refuse(413, "the request body is larger than " + std::to_string(RequestLimits::kMaxBodyBytes) + " bytes");
  self->req_.body.append(at, n);
  return 0;
}

int HttpRequestParser::OnMessageComplete(llhttp_t* p) {
  HttpRequestParser* self = Self(p);
  self->req_.keep_alive = llhttp_should_keep_alive(p) != 0;
  self->complete_ = true;
  return HPE_PAUSED;  // one request at a time: the rest of the input waits for its dispatch
}

}  // namespace sluice::server::http
