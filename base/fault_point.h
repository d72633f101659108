// Fault points: named places where a test can make sluiced die as SIGKILL would, to prove that a
// crash exactly there loses nothing acknowledged (tests/integration/crash_test.cc).
//
// Armed only when sluiced runs with --enable-fault-injection and the environment names a point:
//   SLUICE_FAULT_POINT=<name>  SLUICE_FAULT_AFTER=<n>   (die on the n-th pass, default 1)
// Points (grep SLUICE_FAULT_POINT for where they are):
//   commit.after_write      group commit durable, acks not yet sent
//   seal.before_write       segments sealed in memory, descriptors not yet written
//   deliver.before_delete   object delivered, segment not yet deleted from storage
//   backup.before_delete    segment in the backup store, not yet deleted from storage
//   process.before_commit   a staged stream's segment processed and its failed records in the
//                           error output; output not yet in partitions, segment not yet deleted
// Thread: Arm once on main before any thread starts; Hit from any thread.
#pragma once

namespace sluice::base {

// Reads the environment; call once at startup when fault injection is enabled.
void ArmFaultPoints();
// Dies with SIGKILL when `name` is the armed point and its countdown reaches zero.
void HitFaultPoint(const char* name);
extern bool g_fault_points_armed;

}  // namespace sluice::base

#define SLUICE_FAULT_POINT(name)                                           \
  do {                                                                     \
    if (__builtin_expect(::sluice::base::g_fault_points_armed, 0))         \
      ::sluice::base::HitFaultPoint(name);                                 \
  } while (0)
