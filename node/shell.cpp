#include "node/shell.h"

#include <editline/readline.h>

#include <cstdio>
#include <iostream>

#include "node/control_client.h"

namespace pave {

int run_shell(const std::string& socket_path, const std::string& command, const std::string& history_path) {
    ControlClient conn;
    if (std::string err = conn.open(socket_path); !err.empty()) {
        std::cerr << "pave: error: " << err << "\n";
        return 1;
    }
    std::string reply;
    if (!command.empty()) {
        if (!conn.request(command, reply)) {
            std::cerr << "pave: error: the node did not answer\n";
            return 1;
        }
        std::cout << reply;
        if (!reply.empty() && reply.back() != '\n') std::cout << "\n";
        return reply.rfind("error:", 0) == 0 ? 1 : 0;
    }
    using_history();
    read_history(history_path.c_str());
    for (;;) {
        char* raw = readline("pave> ");
        if (!raw) break;
        std::string line(raw);
        free(raw);
        if (line.find_first_not_of(" \t") == std::string::npos) continue;
        add_history(line.c_str());
        if (line == "quit" || line == "exit") break;
        if (!conn.request(line, reply)) {
            std::cerr << "pave: error: the node did not answer\n";
            break;
        }
        std::cout << reply;
        if (!reply.empty() && reply.back() != '\n') std::cout << "\n";
    }
    write_history(history_path.c_str());
    return 0;
}

}  // namespace pave
