#include "appliance/storage/compaction_loop.h"

#include <algorithm>

#include "kernel_io/ring/ops.h"
#include "store/compactor.h"

namespace appliance {

namespace {

// Short enough that SIGTERM is not kept waiting, long enough to cost nothing.
constexpr uint64_t sleep_slice_ms = 250;

}  // namespace

kio::task<void> run_compaction_loop(kio::reactor& r, smtp_listeners_shared& shared) {
  smtp_shared& services = shared.services;
  const unsigned core = r.id();
  uint64_t slept_ms = 0;
  while (!r.stopping()) {
    // Read each round: a SIGHUP may change the interval.
    std::shared_ptr<const config> cfg = services.configs.get(core);
    const auto& sc = cfg->store;
    if (sc.compaction_interval_ms == 0 || slept_ms < sc.compaction_interval_ms) {
      uint64_t step = sc.compaction_interval_ms == 0 ? sleep_slice_ms
                                                     : std::min(sleep_slice_ms, sc.compaction_interval_ms - slept_ms);
      co_await kio::sleep_for(step);
      slept_ms += step;
      continue;
    }
    slept_ms = 0;
    if (!hold_commit_drivers(shared)) break;
    store::compactor_options options;
    options.live_ratio_max = double(sc.compaction_live_percent_max) / 100.0;
    options.grace_ms = sc.compaction_grace_ms;
    store::compactor pass(services.store, *services.cores[core]->driver, store::core_id{core}, options,
                          &services.runtime);
    auto report = co_await pass.run_once();
    if (!report) {
      services.log.error("compaction").kv("core", core).kv("error", store::to_string(report.error()));
    } else if (report->segments_removed > 0) {
      services.log.info("compaction")
          .kv("core", core)
          .kv("segments_removed", uint64_t(report->segments_removed))
          .kv("bytes_reclaimed", report->bytes_reclaimed)
          .kv("blobs_copied", report->blobs_copied)
          .kv("bytes_copied", report->bytes_copied)
          .kv("longest_step_us", pass.stats().step_ns_max / 1000);
    }
    release_commit_drivers(shared);
  }
}

}  // namespace appliance
