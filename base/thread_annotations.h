// Clang thread-safety annotations (-Wthread-safety), empty for other compilers. The lock rules
// that comments used to state ("GUARDED_BY(mu_)") are checked by the compiler in the clang build
// (scripts/check-threads, run by CI): a member read without its mutex does not compile there.
#pragma once

#if defined(__clang__)
#define SLUICE_TSA(x) __attribute__((x))
#else
#define SLUICE_TSA(x)
#endif

#define SLUICE_CAPABILITY(x) SLUICE_TSA(capability(x))
#define SLUICE_SCOPED_CAPABILITY SLUICE_TSA(scoped_lockable)
#define SLUICE_GUARDED_BY(x) SLUICE_TSA(guarded_by(x))
#define SLUICE_PT_GUARDED_BY(x) SLUICE_TSA(pt_guarded_by(x))
#define SLUICE_REQUIRES(...) SLUICE_TSA(requires_capability(__VA_ARGS__))
#define SLUICE_EXCLUDES(...) SLUICE_TSA(locks_excluded(__VA_ARGS__))
#define SLUICE_ACQUIRE(...) SLUICE_TSA(acquire_capability(__VA_ARGS__))
#define SLUICE_RELEASE(...) SLUICE_TSA(release_capability(__VA_ARGS__))
#define SLUICE_RETURN_CAPABILITY(x) SLUICE_TSA(lock_returned(x))
#define SLUICE_NO_THREAD_SAFETY_ANALYSIS SLUICE_TSA(no_thread_safety_analysis)
