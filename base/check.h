// Invariant checks. SLUICE_CHECK holds in release builds too; SLUICE_DCHECK only in debug.
// Untrusted input never reaches these: it gets a Status.
#pragma once

#include <cstdio>
#include <cstdlib>

namespace sluice::base {
[[noreturn]] inline void CheckFailed(const char* expr, const char* file, int line) {
  std::fprintf(stderr, "FATAL %s:%d: check failed: %s\n", file, line, expr);
  std::abort();
}
}  // namespace sluice::base

#define SLUICE_CHECK(cond) \
  ((cond) ? (void)0 : ::sluice::base::CheckFailed(#cond, __FILE__, __LINE__))

#ifndef NDEBUG
#define SLUICE_DCHECK(cond) SLUICE_CHECK(cond)
#else
#define SLUICE_DCHECK(cond) ((void)0)
#endif
