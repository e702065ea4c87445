#pragma once
// The store's group-commit metrics in Prometheus text, summed over the
// cores: batches, records and bytes committed, failed batches, commit
// latency (write + fdatasync, µs) and batch size (records) as histograms,
// and backup mirror errors. Each core's numbers are read on that core and
// brought to the admin core by message (store::log::commit_metrics is plain
// data owned by its core).

#include <cstdint>
#include <string>
#include <vector>

#include "store/log/core_log.h"

namespace appliance {

struct store_core_metrics {
  store::log::commit_metrics commit;
  uint64_t backup_errors = 0;
};

std::string render_store_metrics(const std::vector<store_core_metrics>& cores);

}  // namespace appliance
