#include "health/run.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <vector>

#include "util/fd.h"

namespace hull::health {

RunResult run(const std::vector<std::string>& argv, int timeout_s) {
  RunResult r;
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) return r;
  UniqueFd rd(pipefd[0]), wr(pipefd[1]);
  auto t0 = std::chrono::steady_clock::now();
  pid_t pid = ::fork();
  if (pid < 0) return r;
  if (pid == 0) {
    ::setpgid(0, 0);
    int devnull = ::open("/dev/null", O_RDONLY);
    ::dup2(devnull, 0);
    ::dup2(wr.get(), 1);
    ::dup2(wr.get(), 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  ::setpgid(pid, pid);
  wr = UniqueFd();
  auto deadline = t0 + std::chrono::seconds(timeout_s);
  bool termed = false, eof = false, reaped = false;
  int status = 0;
  std::chrono::steady_clock::time_point killed_at{};
  char buf[8192];
  while (!reaped || !eof) {
    auto now = std::chrono::steady_clock::now();
    if (!termed && now >= deadline) {
      ::kill(-pid, SIGTERM);
      termed = true;
      r.timed_out = true;
      killed_at = now;
    } else if (termed && now >= killed_at + std::chrono::seconds(5)) {
      ::kill(-pid, SIGKILL);
      // A process that left the group may hold the pipe open: stop reading.
      if (reaped && now >= killed_at + std::chrono::seconds(10)) break;
    }
    if (!reaped) {
      pid_t w = ::waitpid(pid, &status, WNOHANG);
      if (w == pid || (w < 0 && errno != EINTR)) reaped = true;
    }
    if (eof) {
      if (!reaped) ::usleep(100 * 1000);
      continue;
    }
    struct pollfd p{rd.get(), POLLIN, 0};
    if (::poll(&p, 1, 100) > 0) {
      ssize_t got = ::read(rd.get(), buf, sizeof buf);
      if (got <= 0) {
        eof = true;  // every writer is gone
        continue;
      }
      r.output.append(buf, static_cast<size_t>(got));
      if (r.output.size() > (128u << 10)) r.output.erase(0, r.output.size() - (64u << 10));
    }
  }
  if (termed) ::kill(-pid, SIGKILL);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (r.output.size() > (64u << 10)) r.output.erase(0, r.output.size() - (64u << 10));
  return r;
}

std::string last_lines(const std::string& text, int n) {
  std::vector<std::string> lines;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    std::string line = text.substr(pos, nl - pos);
    if (line.find_first_not_of(" \t\r") != std::string::npos) lines.push_back(line);
    pos = nl + 1;
  }
  std::string out;
  for (size_t i = lines.size() > static_cast<size_t>(n) ? lines.size() - n : 0; i < lines.size(); i++)
    out += (out.empty() ? "" : " / ") + lines[i];
  if (out.size() > 300) out = out.substr(0, 297) + "...";
  return out;
}

}  // namespace hull::health
