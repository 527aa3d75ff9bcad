#include "install/runner.h"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "util/error.h"
#include "util/fd.h"

extern char** environ;

namespace hull::install {
namespace {

std::string tool_name(const Command& cmd) {
  if (!cmd.name.empty()) return cmd.name;
  const std::string& a0 = cmd.argv.at(0);
  size_t slash = a0.rfind('/');
  return slash == std::string::npos ? a0 : a0.substr(slash + 1);
}

// Reads both pipes until both are closed.
void drain(int out_fd, int err_fd, std::string& out, std::string& err) {
  pollfd fds[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
  std::string* bufs[2] = {&out, &err};
  int open = 2;
  char buf[65536];
  while (open > 0) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      fail_errno("waiting for a child's output");
    }
    for (int i = 0; i < 2; i++) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = read(fds[i].fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        fds[i].fd = -1;
        open--;
        continue;
      }
      bufs[i]->append(buf, size_t(n));
    }
  }
}

}  // namespace

std::string last_line(std::string_view text) {
  while (!text.empty()) {
    size_t nl = text.find_last_of('\n');
    std::string_view line = nl == std::string_view::npos ? text : text.substr(nl + 1);
    size_t b = line.find_first_not_of(" \t\r");
    if (b != std::string_view::npos) {
      size_t e = line.find_last_not_of(" \t\r");
      return std::string(line.substr(b, e - b + 1));
    }
    if (nl == std::string_view::npos) break;
    text = text.substr(0, nl);
  }
  return {};
}

std::string SystemRunner::run(const Command& cmd) {
  if (cmd.argv.empty()) fail("running a command: empty argv");
  std::string name = tool_name(cmd);
  int outp[2], errp[2];
  if (pipe2(outp, O_CLOEXEC) != 0) fail_errno("creating a pipe");
  UniqueFd out_r(outp[0]), out_w(outp[1]);
  if (pipe2(errp, O_CLOEXEC) != 0) fail_errno("creating a pipe");
  UniqueFd err_r(errp[0]), err_w(errp[1]);

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, out_w.get(), 1);
  posix_spawn_file_actions_adddup2(&fa, err_w.get(), 2);
  std::vector<char*> argv;
  for (const auto& a : cmd.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid;
  int rc = posix_spawnp(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  // An ordinary user's PATH often lacks the sbin directories, where the
  // filesystem tools are.
  for (const char* dir : {"/usr/sbin/", "/sbin/"}) {
    if (rc != ENOENT || cmd.argv[0].find('/') != std::string::npos) break;
    rc = posix_spawn(&pid, (dir + cmd.argv[0]).c_str(), &fa, nullptr, argv.data(), environ);
  }
  posix_spawn_file_actions_destroy(&fa);
  if (rc == ENOENT) fail("running {}: program not found (is its package installed?)", name);
  if (rc != 0) throw SystemError(fmt::format("running {}", name), rc);
  out_w = UniqueFd();
  err_w = UniqueFd();

  std::string out, err;
  drain(out_r.get(), err_r.get(), out, err);
  int status;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) fail_errno(fmt::format("waiting for {}", name));
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return out;
  std::string why = WIFEXITED(status) ? fmt::format("exit {}", WEXITSTATUS(status))
                                      : fmt::format("signal {}", WTERMSIG(status));
  std::string line = last_line(err);
  if (line.empty()) line = last_line(out);
  if (line.empty()) fail("{} failed ({})", name, why);
  fail("{} failed ({}): {}", name, why, line);
}

Runner& system_runner() {
  static SystemRunner r;
  return r;
}

}  // namespace hull::install
