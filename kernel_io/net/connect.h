#pragma once
// connect_to: an outbound TCP connection (outbound SMTP, tests, benches),
// bounded by a timeout. The connect and its timeout are one linked pair of
// SQEs (IORING_OP_CONNECT + IORING_OP_LINK_TIMEOUT): the kernel cancels the
// connect when the time is up, with no timer of ours to clean up.

#include "kernel_io/base/result.h"
#include "kernel_io/base/sys_error.h"
#include "kernel_io/net/socket_address.h"
#include "kernel_io/ring/task.h"

namespace kio {

// Returns a connected, non-blocking-agnostic socket fd (owned by the caller).
task<result<int, sys_error>> connect_to(const socket_address& address, uint64_t timeout_ms,
                                        const socket_address* source = nullptr);

}  // namespace kio
