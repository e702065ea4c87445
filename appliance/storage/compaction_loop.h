#pragma once
// Compaction in the daemon: on every core, every store.compaction_interval_ms,
// one store::compactor pass over that core's shard (the stepped compactor:
// io_uring reads, copies through the core's group commit, nop yields, so the
// reactor keeps serving; store/README.md "Compaction" has the measured
// stalls). The compactor reaches the other cores' shards by message (the
// checkpoint parts, the references to this core's blobs).
//
// A pass holds the commit drivers like an SMTP session does, so shutdown
// stops them only after it; between passes the loop sleeps in short slices
// and notices a stop within one slice.

#include "appliance/smtp/smtp_listeners.h"
#include "kernel_io/ring/reactor.h"
#include "kernel_io/ring/task.h"

namespace appliance {

kio::task<void> run_compaction_loop(kio::reactor& r, smtp_listeners_shared& shared);

}  // namespace appliance
