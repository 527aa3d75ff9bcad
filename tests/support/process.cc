#include "support/process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "util/error.h"
#include "util/fd.h"

namespace hull::test {
namespace {

std::vector<char*> c_argv(const std::vector<std::string>& argv) {
  std::vector<char*> v;
  for (const auto& a : argv) v.push_back(const_cast<char*>(a.c_str()));
  v.push_back(nullptr);
  return v;
}

std::string join(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) s += (s.empty() ? "" : " ") + a;
  return s;
}

int decode_status(int st) {
  if (WIFEXITED(st)) return WEXITSTATUS(st);
  if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
  return -1;
}

void make_pipe(int fds[2]) {
  if (::pipe2(fds, O_CLOEXEC) != 0) fail_errno("pipe");
}

}  // namespace

ProcessResult run(const std::vector<std::string>& argv, const RunOptions& opts) {
  if (argv.empty()) fail("run: empty command");
  int in[2], out[2], err[2];
  make_pipe(in);
  make_pipe(out);
  make_pipe(err);
  std::vector<char*> args = c_argv(argv);
  const char* cwd = opts.cwd.empty() ? nullptr : opts.cwd.c_str();
  pid_t pid = ::fork();
  if (pid < 0) fail_errno("fork");
  if (pid == 0) {
    ::dup2(in[0], 0);
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    if (cwd && ::chdir(cwd) != 0) ::_exit(126);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  UniqueFd win(in[1]), rout(out[0]), rerr(err[0]);
  ::signal(SIGPIPE, SIG_IGN);

  ProcessResult r;
  size_t written = 0;
  if (opts.input.empty()) win = UniqueFd();
  while (rout || rerr) {
    std::vector<pollfd> p;
    if (rout) p.push_back({rout.get(), POLLIN, 0});
    if (rerr) p.push_back({rerr.get(), POLLIN, 0});
    if (win) p.push_back({win.get(), POLLOUT, 0});
    if (::poll(p.data(), p.size(), -1) < 0) {
      if (errno == EINTR) continue;
      fail_errno("poll");
    }
    for (auto& q : p) {
      if (!q.revents) continue;
      if (win && q.fd == win.get()) {
        ssize_t n = ::write(q.fd, opts.input.data() + written, opts.input.size() - written);
        if (n > 0) written += static_cast<size_t>(n);
        if (n < 0 || written == opts.input.size()) win = UniqueFd();
        continue;
      }
      char buf[65536];
      ssize_t n = ::read(q.fd, buf, sizeof buf);
      if (n > 0) {
        (q.fd == rout.get() ? r.out : r.err).append(buf, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        if (q.fd == rout.get())
          rout = UniqueFd();
        else
          rerr = UniqueFd();
      }
    }
  }
  win = UniqueFd();
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  r.exit_code = decode_status(st);
  if (r.exit_code == 127 && r.err.empty()) r.err = "cannot execute " + argv[0];
  return r;
}

std::string run_ok(const std::vector<std::string>& argv, const RunOptions& opts) {
  ProcessResult r = run(argv, opts);
  if (!r.ok()) fail("{} failed (exit {}): {}", join(argv), r.exit_code, r.err);
  return r.out;
}

std::string sh(const std::string& script, const RunOptions& opts) { return run_ok({"sh", "-c", script}, opts); }

Child::Child(const std::vector<std::string>& argv, const std::string& log_path) {
  if (argv.empty()) fail("Child: empty command");
  std::vector<char*> args = c_argv(argv);
  std::string log = log_path.empty() ? "/dev/null" : log_path;
  UniqueFd logfd = open_file(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) fail_errno("fork");
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(1);
    int nul = ::open("/dev/null", O_RDONLY);
    ::dup2(nul, 0);
    ::dup2(logfd.get(), 1);
    ::dup2(logfd.get(), 2);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  pid_ = pid;
}

Child& Child::operator=(Child&& o) noexcept {
  if (this != &o) {
    stop();
    pid_ = o.pid_;
    status_ = o.status_;
    o.pid_ = -1;
  }
  return *this;
}

bool Child::running() {
  if (pid_ < 0) return false;
  int st = 0;
  pid_t r = ::waitpid(pid_, &st, WNOHANG);
  if (r == pid_) {
    status_ = decode_status(st);
    pid_ = -1;
    return false;
  }
  return true;
}

int Child::stop() {
  if (pid_ < 0) return status_;
  ::kill(pid_, SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (running()) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid_, SIGKILL);
      int st = 0;
      while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
      }
      status_ = decode_status(st);
      pid_ = -1;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return status_;
}

int free_port() {
  UniqueFd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!s) fail_errno("socket");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  if (::bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) fail_errno("bind");
  socklen_t len = sizeof a;
  if (::getsockname(s.get(), reinterpret_cast<sockaddr*>(&a), &len) != 0) fail_errno("getsockname");
  return ntohs(a.sin_port);
}

}  // namespace hull::test
