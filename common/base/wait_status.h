// How a child process ended, for logs: "exited with status 1", "died with signal 9 (Killed)".
#pragma once

#include <string>

namespace pixelmill {

// `status` as waitpid(2) gives it.
std::string DescribeWaitStatus(int status);

}  // namespace pixelmill
