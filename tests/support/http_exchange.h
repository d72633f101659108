// Raw HTTP/1.1 exchanges for the tests of the HTTP port: responses framed by Content-Length.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tests/support/raw_socket.h"

namespace sluice::test {

// Reads until `count` complete responses (by Content-Length) arrived, the peer closed, or 10 s.
// `head_only`: the responses answer HEAD requests (no bodies follow their headers).
std::vector<std::string> ReadResponses(RawSocket& s, size_t count, bool* closed, bool head_only = false);

// The parts of one response.
int Status(const std::string& response);
std::string Body(const std::string& response);
// The value of header `name` (case-sensitive as sent), "" when absent.
std::string Header(const std::string& response, const std::string& name);

// GET `target` on 127.0.0.1:`port` (extra header lines end in \r\n); the whole response, "" if none.
std::string HttpGet(uint16_t port, const std::string& target, const std::string& extra_headers = "");

// The value of one series ("name{labels}") in a /metrics body; -1 when absent.
double MetricSample(const std::string& metrics, const std::string& series);
// The same, scraped from the HTTP port now.
double ScrapeMetric(uint16_t http_port, const std::string& series);

}  // namespace sluice::test
