// Fault points: environment-armed SIGKILL at named places (test builds and drills only).
#include "base/fault_point.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <string>

#include "base/log.h"

namespace sluice::base {

bool g_fault_points_armed = false;

namespace {
std::string g_point;
std::atomic<long> g_remaining{1};
}  // namespace

void ArmFaultPoints() {
  const char* point = std::getenv("SLUICE_FAULT_POINT");
  if (point == nullptr || *point == '\0') return;
  g_point = point;
  const char* after = std::getenv("SLUICE_FAULT_AFTER");
  long n = after ? std::strtol(after, nullptr, 10) : 1;
  g_remaining.store(n < 1 ? 1 : n);
  g_fault_points_armed = true;
  SLUICE_LOG_WARN("fault", "fault point '%s' armed: the process dies at its pass %ld", point, n < 1 ? 1 : n);
}

void HitFaultPoint(const char* name) {
  if (g_point != name) return;
  if (g_remaining.fetch_sub(1) != 1) return;
  static const char kMsg[] = "sluiced: fault point reached, dying as SIGKILL would\n";
  (void)!::write(STDERR_FILENO, kMsg, sizeof(kMsg) - 1);
  ::kill(::getpid(), SIGKILL);
}

}  // namespace sluice::base
