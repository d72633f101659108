// ReplayJob: background replay of backup files through the put port.
#include "server/replay_job.h"

#include <cstdio>

#include "base/clock.h"
#include "base/log.h"
#include "base/thread_entry.h"

namespace sluice::server {

base::Status ReplayJob::Start(std::vector<std::string> files, std::string target, client::ClientOptions put) {
  base::MutexLock lock(mu_);
  if (state_.running)
    return base::Status(base::Code::kBusy, "a replay of '" + state_.target + "' is running (see INFO replay)");
  if (thread_.joinable()) thread_.join();  // the previous one has finished
  state_ = Snapshot{};
  state_.running = state_.ever_started = true;
  state_.target = std::move(target);
  state_.progress.files_total = files.size();
  state_.started_ms = base::Clock::Real()->NowUnixMillis();
  thread_ = std::thread([this, files = std::move(files), put = std::move(put)]() mutable noexcept {
    base::RunThreadEntry("replay", [&] {
      try {
        Run(std::move(files), std::move(put));
      } catch (const std::exception& e) {
        // A replay that fails ends as a failed replay (INFO replay says why), not a crash.
        SLUICE_LOG_ERROR("replay", "replay failed: %s", e.what());
        base::MutexLock lock(mu_);
        state_.progress.first_error = std::string("replay failed: ") + e.what();
        state_.running = false;
        state_.finished_ms = base::Clock::Real()->NowUnixMillis();
      }
    });
  });
  return base::Status::Ok();
}

void ReplayJob::Run(std::vector<std::string> files, client::ClientOptions put) {
  client::ReplayProgress last;
  last.files_total = files.size();
  auto connected = client::Client::Connect(put);
  if (!connected.ok()) {
    last.connection_ok = false;
    last.first_error = "cannot connect to the put port: " + connected.status().ToString();
  } else {
    last = client::ReplayFiles(**connected, files, "", /*mark_replayed=*/true,
                               [&](const std::string&, bool, const client::ReplayProgress& p) {
                                 base::MutexLock lock(mu_);
                                 state_.progress = p;
                                 state_.files_renamed = p.files_renamed;
                               });
  }
  SLUICE_LOG_INFO("replay", "replay finished: %llu of %zu files, %llu records acked, %llu failed%s%s",
                  static_cast<unsigned long long>(last.files_done), last.files_total,
                  static_cast<unsigned long long>(last.records_acked),
                  static_cast<unsigned long long>(last.records_failed), last.first_error.empty() ? "" : "; first error: ",
                  last.first_error.c_str());
  base::MutexLock lock(mu_);
  state_.progress = last;
  state_.running = false;
  state_.finished_ms = base::Clock::Real()->NowUnixMillis();
}

ReplayJob::Snapshot ReplayJob::status() const {
  base::MutexLock lock(mu_);
  return state_;
}

void ReplayJob::Join() {
  if (thread_.joinable()) thread_.join();
}

}  // namespace sluice::server
