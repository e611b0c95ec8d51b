// StopSignals: how a long-running command (skiff up, skiff serve) ends on SIGINT or SIGTERM.
//
//   StopSignals stop;      // first thing in main's thread, before any other thread starts
//   ... start servers ...
//   int sig = stop.Wait(); // blocks until Ctrl-C or SIGTERM
//
// The constructor blocks both signals in the calling thread, so every thread started after it
// inherits the mask and only Wait sees them, and ignores SIGPIPE (a peer that closed its socket
// is an error on the write, not the end of the process). Thread-compatible.
#pragma once

#include <signal.h>

namespace skiff {

class StopSignals {
 public:
  StopSignals();
  // The signal that arrived.
  int Wait();

 private:
  sigset_t set_;
};

}  // namespace skiff
