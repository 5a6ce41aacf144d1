#pragma once
// Graceful stops: the first SIGINT or SIGTERM is remembered for the training loop to act on at
// its next step boundary; a second one takes the default action (immediate exit).

namespace deepl {

/// Installs the handlers (idempotent).
void install_stop_handlers();
/// The signal that asked for a stop (SIGINT, SIGTERM), or 0.
int stop_signal();
/// Forgets a remembered signal and re-arms the handlers.
void clear_stop_signal();
/// "SIGINT", "SIGTERM", or "signal N".
const char* signal_name(int signal);

}  // namespace deepl
