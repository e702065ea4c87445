#pragma once
// Telling systemd how the daemon is doing (Type=notify): READY=1,
// RELOADING=1, STOPPING=1, STATUS=...
//
// The protocol (sd_notify(3), "NOTIFY_SOCKET" in systemd.exec(5)) is one
// datagram of newline-separated assignments to the AF_UNIX socket named by
// $NOTIFY_SOCKET: a path, or "@name" for the abstract namespace. Written
// here, not taken from libsystemd, because this is all of libsystemd the
// daemon used, and linking it made every process (`ringmail spam score`
// too) load and bind it and the six libraries it pulls in.

#include <string_view>

namespace appliance {

// Sends `state` to $NOTIFY_SOCKET. Not under systemd (no $NOTIFY_SOCKET)
// is not an error: returns false and does nothing, like sd_notify's 0.
// An unusable address or a failed send also returns false; the daemon
// goes on either way (systemd then times the unit out, which is its call).
bool notify_systemd(std::string_view state);

// The same, to an explicit socket name (the value $NOTIFY_SOCKET would
// have); empty: nothing is sent.
bool notify_systemd_at(std::string_view socket_name, std::string_view state);

}  // namespace appliance
