#include "node/state_dir.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace pave {

std::string default_state_dir() {
    // systemd's StateDirectory= (e.g. /var/lib/pave): a list separated by ':', the first is PAVE's.
    if (const char* sd = std::getenv("STATE_DIRECTORY"); sd && *sd == '/') {
        std::string first(sd);
        first = first.substr(0, first.find(':'));
        if (first.size() > 1) return first;
    }
    if (const char* x = std::getenv("XDG_STATE_HOME"); x && *x) return std::string(x) + "/pave";
    if (const char* h = std::getenv("HOME"); h && *h) return std::string(h) + "/.local/state/pave";
    return "./pave-state";
}

std::string prepare_state_dir(const std::string& dir) {
    if (dir.empty()) return "state directory is empty";
    // create parents as needed
    for (size_t pos = 1; pos <= dir.size(); ++pos) {
        if (pos != dir.size() && dir[pos] != '/') continue;
        std::string part = dir.substr(0, pos);
        if (mkdir(part.c_str(), pos == dir.size() ? 0700 : 0755) != 0 && errno != EEXIST)
            return "cannot create state directory " + dir + ": " + std::strerror(errno);
    }
    struct stat st;
    if (stat(dir.c_str(), &st) != 0) return "cannot use state directory " + dir + ": " + std::strerror(errno);
    if (!S_ISDIR(st.st_mode)) return "state directory " + dir + " is not a directory";
    if (access(dir.c_str(), W_OK | X_OK) != 0)
        return "state directory " + dir + " is not writable: " + std::strerror(errno);
    return "";
}

}  // namespace pave
