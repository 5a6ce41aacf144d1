#pragma once
// Child processes: what the data-parallel launcher and the sweep share once they have forked.
#include <string>
#include <vector>

namespace deepl {

/// Replaces this (forked) process with `program args...`; if that fails, prints "<who>: cannot run
/// <program>" and exits with 127, as a shell does.
[[noreturn]] void exec_program(const std::string& program, const std::vector<std::string>& args, const char* who);

/// A waitpid status as a shell reports it: the exit code, or 128 + the signal that killed it.
int exit_status(int wait_status);

}  // namespace deepl
