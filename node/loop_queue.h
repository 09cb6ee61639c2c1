// Hands work from other threads (OpenDHT's) to the libuv loop thread.
// post() is thread-safe; every queued closure runs on the loop thread, all of them per wake-up
// (uv_async_send coalesces).
#pragma once
#include <uv.h>

#include <deque>
#include <functional>
#include <mutex>

namespace pave {

class LoopQueue {
public:
    explicit LoopQueue(uv_loop_t* loop);
    ~LoopQueue();
    LoopQueue(const LoopQueue&) = delete;
    LoopQueue& operator=(const LoopQueue&) = delete;

    // Thread-safe. Closures posted after close() are dropped.
    void post(std::function<void()> fn);
    // Loop thread: stop accepting work and release the async handle.
    void close();

private:
    static void on_async(uv_async_t* h);
    void drain();

    uv_async_t* async_;
    std::mutex mutex_;
    std::deque<std::function<void()>> queue_;
    bool closed_ = false;
};

}  // namespace pave
