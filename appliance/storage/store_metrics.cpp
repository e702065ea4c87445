#include "appliance/storage/store_metrics.h"

#include <algorithm>
#include <iterator>

namespace appliance {

namespace {

template <size_t N>
void histogram_text(std::string& out, const std::string& name, const uint64_t (&sum)[N], uint64_t total,
                    uint64_t count) {
  out += "# TYPE " + name + " histogram\n";
  uint64_t cumulative = 0;
  for (size_t b = 0; b < N; ++b) {
    cumulative += sum[b];
    // Bucket b counts values below 2^b.
    out += name + "_bucket{le=\"" + std::to_string((uint64_t(1) << b) - 1) + "\"} " + std::to_string(cumulative) + "\n";
  }
  out += name + "_bucket{le=\"+Inf\"} " + std::to_string(count) + "\n";
  out += name + "_sum " + std::to_string(total) + "\n" + name + "_count " + std::to_string(count) + "\n";
}

}  // namespace

std::string render_store_metrics(const std::vector<store_core_metrics>& cores) {
  store::log::commit_metrics all;
  uint64_t backup_errors = 0;
  for (const auto& c : cores) {
    all.batches += c.commit.batches;
    all.records += c.commit.records;
    all.bytes += c.commit.bytes;
    all.failed_batches += c.commit.failed_batches;
    all.batch_records_max = std::max(all.batch_records_max, c.commit.batch_records_max);
    all.latency_sum_us += c.commit.latency_sum_us;
    for (size_t i = 0; i < std::size(all.latency_buckets_us); ++i) all.latency_buckets_us[i] += c.commit.latency_buckets_us[i];
    for (size_t i = 0; i < std::size(all.batch_size_buckets); ++i) all.batch_size_buckets[i] += c.commit.batch_size_buckets[i];
    backup_errors += c.backup_errors;
  }
  std::string out;
  auto counter = [&out](const std::string& name, uint64_t v) {
    out += "# TYPE " + name + " counter\n" + name + " " + std::to_string(v) + "\n";
  };
  counter("ringmail_store_commit_batches_total", all.batches);
  counter("ringmail_store_commit_records_total", all.records);
  counter("ringmail_store_commit_bytes_total", all.bytes);
  counter("ringmail_store_commit_failed_batches_total", all.failed_batches);
  counter("ringmail_store_backup_errors_total", backup_errors);
  out += "# TYPE ringmail_store_commit_batch_records_max gauge\nringmail_store_commit_batch_records_max " +
         std::to_string(all.batch_records_max) + "\n";
  histogram_text(out, "ringmail_store_commit_latency_us", all.latency_buckets_us, all.latency_sum_us,
                 all.batches + all.failed_batches);
  uint64_t batches_counted = 0;
  for (auto b : all.batch_size_buckets) batches_counted += b;
  histogram_text(out, "ringmail_store_commit_batch_records", all.batch_size_buckets, all.records, batches_counted);
  return out;
}

}  // namespace appliance
