// `ringmail quarantine list|release|delete`: what the filter (or DMARC's
// quarantine action) put into an account's Junk folders, for the operator.
// Runs in the daemon behind the admin socket and works through the same
// mailbox service as an IMAP session (appliance/imap), so every change runs
// on the account's owner core, is durable before the reply, wakes the
// account's IMAP sessions, and a release out of Junk is a training event for
// the account's token store exactly like a user's move over IMAP.
#pragma once

#include "appliance/admin/commands.h"
#include "appliance/imap/imap_services.h"
#include "kernel_io/ring/task.h"

namespace appliance {

class directory;

// request.verb is "quarantine.list" (args: account (optional), limit),
// "quarantine.release" or "quarantine.delete" (args: account, uid, mailbox).
// Call on any core; `dir` is that core's directory snapshot.
kio::task<admin_response> run_quarantine_command(imap_shared& shared, const directory& dir,
                                                 const admin_request& request);

}  // namespace appliance
