// PrometheusWriter: the text exposition format 0.0.4, written by hand (one family header, then
// its samples), as Envoy and Fluent Bit do. docs/architecture.md says why not prometheus-cpp.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

#include "base/histogram.h"

namespace sluice::server::monitor {

using Label = std::pair<std::string_view, std::string_view>;

class PrometheusWriter {
 public:
  // constant: a label every sample carries first (the cluster's node="<id>"); empty: none.
  explicit PrometheusWriter(std::string* out, Label constant = {}) : out_(out), constant_(constant) {}

  // "# HELP" and "# TYPE" lines; every sample of the family follows before the next Family.
  void Family(std::string_view name, std::string_view type, std::string_view help);
  void Sample(std::string_view name, std::initializer_list<Label> labels, double value);
  void Sample(std::string_view name, std::initializer_list<Label> labels, uint64_t value);
  // name_bucket{...,le="..."} (cumulative), name_sum and name_count.
  void Histogram(std::string_view name, std::initializer_list<Label> labels, const base::Histogram& h);

 private:
  void Name(std::string_view name, std::initializer_list<Label> labels, std::string_view le = {});
  std::string* out_;
  Label constant_;
};

// A label value with \, " and newline escaped.
void AppendEscapedLabel(std::string* out, std::string_view v);

}  // namespace sluice::server::monitor
