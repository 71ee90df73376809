// systemd readiness notification (sd_notify(3) protocol) without libsystemd: one datagram to $NOTIFY_SOCKET.
#pragma once

#include <string_view>

namespace vpced::cmd {

// Sends e.g. "READY=1", "RELOADING=1", "STOPPING=1", "STATUS=…". A no-op when not started by systemd.
void sd_notify(std::string_view state);

}  // namespace vpced::cmd
