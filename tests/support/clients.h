// Small clients the integration tests share: one admin exchange, batched puts.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sluice::test {

// Sends `bytes` to the admin port, half-closes, and returns everything the server answered.
std::string AdminAsk(uint16_t admin_port, const std::string& bytes);

// Puts `records` into `stream` in batches of 500 on one connection. Returns how many records
// were not acknowledged (all of them when the connection fails).
size_t PutRecords(uint16_t port, const std::string& stream, const std::vector<std::string>& records);

// Tells a misbehaving test peer (tests/peers/*.js) how to answer: GET /__mode?m=<mode>&n=<n>
// (n < 0: until told otherwise). Returns false when the peer did not answer 200.
bool SetPeerMode(uint16_t port, const std::string& mode, int n = -1);

}  // namespace sluice::test
