#pragma once
// The CLI side of the admin socket (DATA/admin.sock) and of the data-dir
// lock (DATA/ringmail.lock), which says whether a daemon owns the data dir.
// Plain blocking calls: the CLI is a short-lived process with no reactor.

#include <optional>
#include <string>

#include "appliance/admin/commands.h"

namespace appliance {

inline constexpr const char* admin_socket_name = "admin.sock";
inline constexpr const char* lock_file_name = "ringmail.lock";
// auth.test may wait out a throttle delay plus a hash.
inline constexpr int admin_client_timeout_ms = 60'000;

enum class admin_connect { answered, no_daemon, failed };

// Sends one request to the daemon. no_daemon: nothing listens on the socket
// (absent, or stale after a crash); failed: something listens but the
// exchange broke (`error` says how).
admin_connect send_admin_request(const std::string& data_dir, const admin_request& request, admin_response& response,
                                 std::string& error);

// An exclusive, non-blocking flock on DATA/ringmail.lock, held while the fd
// is open. The daemon holds it for its whole life; the offline CLI holds it
// while it changes the directory. -1 and `error` if someone else holds it.
int lock_data_dir(const std::string& data_dir, std::string& error);

}  // namespace appliance
