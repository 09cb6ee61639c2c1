#include "node/run_program.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>

extern char** environ;

namespace pave {

namespace {

constexpr size_t kMaxOutput = 1 << 20;

std::vector<std::string> merged_env(const std::vector<std::string>& extra) {
    std::vector<std::string> env;
    for (char** e = environ; e && *e; ++e) {
        std::string s(*e);
        bool replaced = false;
        for (const auto& x : extra) {
            auto eq = x.find('=');
            if (eq != std::string::npos && s.compare(0, eq + 1, x, 0, eq + 1) == 0) replaced = true;
        }
        if (!replaced) env.push_back(std::move(s));
    }
    env.insert(env.end(), extra.begin(), extra.end());
    return env;
}

std::vector<char*> pointers(std::vector<std::string>& v) {
    std::vector<char*> p;
    for (auto& s : v) p.push_back(s.data());
    p.push_back(nullptr);
    return p;
}

}  // namespace

ProgramResult run_program(const std::vector<std::string>& argv_in, const std::vector<std::string>& extra_env,
                          bool capture) {
    ProgramResult r;
    if (argv_in.empty()) {
        r.error = "no program";
        return r;
    }
    std::vector<std::string> argv = argv_in, env = merged_env(extra_env);
    auto argp = pointers(argv), envp = pointers(env);

    int out[2] = {-1, -1};
    if (pipe2(out, O_CLOEXEC) != 0) {
        r.error = std::string("pipe: ") + std::strerror(errno);
        return r;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    // Without capture the child's stdout joins its stderr (this process's stderr).
    posix_spawn_file_actions_adddup2(&fa, capture ? out[1] : STDERR_FILENO, STDOUT_FILENO);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none, defaults;
    sigemptyset(&none);
    sigemptyset(&defaults);
    for (int s : {SIGINT, SIGTERM, SIGPIPE, SIGHUP, SIGCHLD}) sigaddset(&defaults, s);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSID);
    pid_t pid = -1;
    int rc = posix_spawnp(&pid, argv[0].c_str(), &fa, &attr, argp.data(), envp.data());
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    ::close(out[1]);
    if (rc != 0) {
        ::close(out[0]);
        r.error = "cannot run " + argv[0] + ": " + std::strerror(rc);
        return r;
    }
    char buf[4096];
    for (;;) {
        ssize_t n = ::read(out[0], buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        if (r.output.size() < kMaxOutput) r.output.append(buf, size_t(n));
    }
    ::close(out[0]);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) {
            r.error = std::string("waitpid: ") + std::strerror(errno);
            return r;
        }
    if (WIFEXITED(st)) r.status = WEXITSTATUS(st);
    else r.error = argv[0] + " killed by signal " + std::to_string(WTERMSIG(st));
    return r;
}

bool program_in_path(const std::string& name) {
    const char* path = std::getenv("PATH");
    std::string p = path ? path : "/usr/sbin:/usr/bin:/sbin:/bin";
    size_t start = 0;
    while (start <= p.size()) {
        size_t end = p.find(':', start);
        if (end == std::string::npos) end = p.size();
        std::string dir = p.substr(start, end - start);
        if (!dir.empty() && access((dir + "/" + name).c_str(), X_OK) == 0) return true;
        start = end + 1;
    }
    return false;
}

}  // namespace pave
