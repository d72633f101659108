// Prometheus text format 0.0.4 writer.
#include "server/monitor/prometheus.h"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace sluice::server::monitor {
namespace {

void AppendDouble(std::string* out, double v) {
  if (std::isnan(v)) return out->append("NaN"), void();
  if (std::isinf(v)) return out->append(v > 0 ? "+Inf" : "-Inf"), void();
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out->append(buf, ec == std::errc() ? end : buf);
}

void AppendUint(std::string* out, uint64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out->append(buf, end);
}

}  // namespace

void AppendEscapedLabel(std::string* out, std::string_view v) {
  for (char c : v) {
    if (c == '\\') out->append("\\\\");
    else if (c == '"') out->append("\\\"");
    else if (c == '\n') out->append("\\n");
    else out->push_back(c);
  }
}

void PrometheusWriter::Family(std::string_view name, std::string_view type, std::string_view help) {
  out_->append("# HELP ").append(name).push_back(' ');
  for (char c : help) {  // HELP escapes only \ and newline
    if (c == '\\') out_->append("\\\\");
    else if (c == '\n') out_->append("\\n");
    else out_->push_back(c);
  }
  out_->append("\n# TYPE ").append(name).push_back(' ');
  out_->append(type).push_back('\n');
}

void PrometheusWriter::Name(std::string_view name, std::initializer_list<Label> labels, std::string_view le) {
  out_->append(name);
  if (labels.size() == 0 && le.empty() && constant_.first.empty()) return;
  out_->push_back('{');
  bool first = true;
  if (!constant_.first.empty()) {
    out_->append(constant_.first).append("=\"");
    AppendEscapedLabel(out_, constant_.second);
    out_->push_back('"');
    first = false;
  }
  for (const auto& [k, v] : labels) {
    if (!first) out_->push_back(',');
    first = false;
    out_->append(k).append("=\"");
    AppendEscapedLabel(out_, v);
    out_->push_back('"');
  }
  if (!le.empty()) {
    if (!first) out_->push_back(',');
    out_->append("le=\"").append(le).push_back('"');
  }
  out_->push_back('}');
}

void PrometheusWriter::Sample(std::string_view name, std::initializer_list<Label> labels, double value) {
  Name(name, labels);
  out_->push_back(' ');
  AppendDouble(out_, value);
  out_->push_back('\n');
}

void PrometheusWriter::Sample(std::string_view name, std::initializer_list<Label> labels, uint64_t value) {
  Name(name, labels);
  out_->push_back(' ');
  AppendUint(out_, value);
  out_->push_back('\n');
}

void PrometheusWriter::Histogram(std::string_view name, std::initializer_list<Label> labels, const base::Histogram& h) {
  const std::string bucket = std::string(name) + "_bucket";
  uint64_t cumulative = 0;
  char le[32];
  for (size_t i = 0; i <= h.bounds().size(); i++) {
    cumulative += h.bucket(i);
    if (i < h.bounds().size()) {
      auto [end, ec] = std::to_chars(le, le + sizeof le, h.bounds()[i]);
      Name(bucket, labels, std::string_view(le, ec == std::errc() ? end : le));
    } else {
      Name(bucket, labels, "+Inf");
    }
    out_->push_back(' ');
    AppendUint(out_, cumulative);
    out_->push_back('\n');
  }
  Name(std::string(name) + "_sum", labels);
  out_->push_back(' ');
  AppendDouble(out_, h.sum());
  out_->push_back('\n');
  Name(std::string(name) + "_count", labels);
  out_->push_back(' ');
  AppendUint(out_, cumulative);  // the same reads as the buckets: _count equals the +Inf bucket
  out_->push_back('\n');
}

}  // namespace sluice::server::monitor
