// The control socket's command set: each command is registered once with its usage and help
// line, and `help` is generated from the registrations, so the list cannot drift from the
// commands. A command is one or more words ("status", "dht get"); the longest registered
// name that starts the line wins, then the argument count is checked. I/O-free.
#pragma once
#include <algorithm>
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

namespace pave {

class CommandRegistry {
public:
    using Reply = std::function<void(std::string)>;
    using Args = std::vector<std::string>;
    using Handler = std::function<void(const Args& args, Reply reply)>;

    struct Spec {
        std::string name;   // one or more words
        std::string usage;  // as shown by help, e.g. "dht put KEY VALUE"
        std::string help;   // one line
        size_t min_args = 0;
        size_t max_args = 0;
        // The last argument takes the rest of the line, spaces included (a value to store).
        bool rest = false;
        Handler handler;
    };

    void add(Spec s) { specs_.push_back(std::move(s)); }

    // Runs the command `line` names and returns true; false (and nothing run) if no command
    // matches or the argument count is wrong.
    bool dispatch(const std::string& line, Reply reply) const {
        const std::vector<std::string> words = split(line, std::string::npos);
        const Spec* best = nullptr;
        size_t best_words = 0;
        for (const auto& s : specs_) {
            const std::vector<std::string> name = split(s.name, std::string::npos);
            if (name.size() <= best_words || name.size() > words.size()) continue;
            bool match = true;
            for (size_t i = 0; i < name.size() && match; ++i) match = words[i] == name[i];
            if (match) {
                best = &s;
                best_words = name.size();
            }
        }
        if (!best) return false;
        // Split again so that a `rest` argument keeps its spaces.
        std::vector<std::string> all = split(line, best->rest ? best_words + best->max_args : std::string::npos);
        Args args(all.begin() + std::ptrdiff_t(best_words), all.end());
        if (args.size() < best->min_args || args.size() > best->max_args) return false;
        best->handler(args, std::move(reply));
        return true;
    }

    // One line per command, in registration order: the usage padded to a column, then the help.
    std::string help() const {
        size_t width = 0;
        for (const auto& s : specs_) width = std::max(width, s.usage.size());
        width = std::max<size_t>(width + 2, 20);
        std::string out;
        for (const auto& s : specs_) {
            out += s.usage;
            out.append(width - s.usage.size(), ' ');
            out += s.help;
            out += '\n';
        }
        return out;
    }

    const std::vector<Spec>& specs() const { return specs_; }

    // Splits on spaces into at most max_parts words, the last one keeping the rest of the line.
    static std::vector<std::string> split(const std::string& line, size_t max_parts) {
        std::vector<std::string> out;
        size_t i = 0;
        for (;;) {
            while (i < line.size() && line[i] == ' ') ++i;
            if (i >= line.size()) break;
            if (out.size() + 1 >= max_parts) {
                out.push_back(line.substr(i));
                break;
            }
            size_t j = line.find(' ', i);
            out.push_back(line.substr(i, j == std::string::npos ? std::string::npos : j - i));
            if (j == std::string::npos) break;
            i = j;
        }
        return out;
    }

    // True if args holds `flag` (e.g. "--json").
    static bool has_flag(const Args& args, const std::string& flag) {
        for (const auto& a : args)
            if (a == flag) return true;
        return false;
    }

private:
    std::vector<Spec> specs_;
};

}  // namespace pave
