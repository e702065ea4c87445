// Structured log lines and per-core metrics.
#include <gtest/gtest.h>

#include <thread>

#include "appliance/observe/log.h"
#include "appliance/observe/metrics.h"
#include "appliance/observe/runtime_metrics.h"

namespace appliance {
namespace {

TEST(log, one_line_key_value_with_quoting) {
  std::vector<std::string> lines;
  logger log([&](std::string_view l) { lines.emplace_back(l); });
  log.info("auth_failed").kv("account", "a@b.c").kv("reason", "bad password").kv("n", 3u).kv("tls", true)
      .kv("evil", "x\ny=\"z\"");
  ASSERT_EQ(lines.size(), 1u);
  const std::string& l = lines[0];
  EXPECT_EQ(l.rfind("ts=", 0), 0u);
  EXPECT_EQ(l.back(), '\n');
  EXPECT_EQ(l.find('\n'), l.size() - 1);
  EXPECT_NE(l.find(" level=info event=auth_failed account=a@b.c reason=\"bad password\" n=3 tls=yes"), std::string::npos) << l;
  EXPECT_NE(l.find("evil=\"x\\x0ay=\\\"z\\\"\""), std::string::npos) << l;
}

TEST(metrics, per_core_slots_are_summed_on_read) {
  metrics m(2);
  std::thread t0([&] { for (int i = 0; i < 100000; ++i) m.add(0, counter::logins_ok); });
  std::thread t1([&] { for (int i = 0; i < 100000; ++i) m.add(1, counter::logins_ok); });
  t0.join();
  t1.join();
  m.add(2, counter::logins_ok, 5);  // the slot for work off the reactors
  EXPECT_EQ(m.sum(counter::logins_ok), 200005u);
  m.observe(0, histogram::auth_duration_ms, 0);
  m.observe(1, histogram::auth_duration_ms, 3);
  m.observe(1, histogram::auth_duration_ms, 100);
  auto h = m.sum(histogram::auth_duration_ms);
  EXPECT_EQ(h.count, 3u);
  EXPECT_EQ(h.sum, 103u);
  EXPECT_EQ(h.quantile_upper_bound(0.99), 127u);
  std::string text = m.render_prometheus();
  EXPECT_NE(text.find("ringmail_logins_ok_total 200005\n"), std::string::npos);
  EXPECT_NE(text.find("ringmail_auth_duration_ms_count 3\n"), std::string::npos);
}

}  // namespace
}  // namespace appliance

namespace appliance {
namespace {

TEST(runtime_metrics, one_series_per_core_each_family_typed_once) {
  std::vector<runtime_core_metrics> cores(2);
  cores[0] = {0, 1024, 16, 12, 4, 0, 77};
  cores[1] = {1, 1024, 32, 30, 2, 9, 88};
  std::string text = render_runtime_metrics(cores);
  for (const char* line : {"# TYPE ringmail_receive_buffers gauge\nringmail_receive_buffers{core=\"0\"} 1024\n"
                           "ringmail_receive_buffers{core=\"1\"} 1024\n",
                           "ringmail_receive_buffers_window{core=\"1\"} 32\n",
                           "ringmail_receive_buffers_in_kernel{core=\"0\"} 12\n",
                           "ringmail_receive_buffers_held{core=\"0\"} 4\n",
                           "# TYPE ringmail_receive_enobufs_total counter\nringmail_receive_enobufs_total{core=\"0\"} 0\n"
                           "ringmail_receive_enobufs_total{core=\"1\"} 9\n",
                           "ringmail_event_loops_total{core=\"1\"} 88\n"}) {
    EXPECT_NE(text.find(line), std::string::npos) << line << "\nin\n" << text;
  }
  size_t types = 0;
  for (size_t at = text.find("# TYPE"); at != std::string::npos; at = text.find("# TYPE", at + 1)) ++types;
  EXPECT_EQ(types, 6u);
}

}  // namespace
}  // namespace appliance
