// Hands work from other threads (OpenDHT's) to the libuv loop thread.
// post() is thread-safe; every queued closure runs on the loop thread, all of them per wake-up
// (uv_async_send coalesces).
//
// The queue is bounded: while kCapacity closures wait (the loop thread is stalled or a peer
// floods the DHT with values), post() drops the new closure and counts it (dropped(), shown
// as loop_queue_dropped by the `stats` command). A drop loses one batch of DHT values or one
// completion, never more, and never blocks OpenDHT's thread. What a drop means per caller:
//   DirectoryFeed   one batch of relay records unseen; relays republish their records, so the
//                   directory catches up at the next publication.
//   RelayService    one batch of offers to the relay's inbox unanswered; the client hears
//                   nothing and, as for a silent relay, asks another relay after its timeout.
//   ClientService   one relay answer lost; the client treats that relay as silent (same).
//   shell dht get / dht put
//                   the reply to that command never comes; the shell reports that the node
//                   did not answer (after its 15 s timeout).
#pragma once
#include <uv.h>

#include <cstdint>
#include <functional>
#include <mutex>

#include "node/bounded_queue.h"
#include "node/uv_handle.h"

namespace pave {

class LoopQueue {
public:
    // Far above what a loop iteration needs: each DHT listen or get delivers at most one
    // closure per batch of values.
    static constexpr size_t kCapacity = 4096;

    explicit LoopQueue(uv_loop_t* loop, size_t capacity = kCapacity);
    ~LoopQueue();
    LoopQueue(const LoopQueue&) = delete;
    LoopQueue& operator=(const LoopQueue&) = delete;

    // Thread-safe. False if the closure was dropped: the queue is full (counted in dropped())
    // or closed (not counted).
    bool post(std::function<void()> fn);
    // Loop thread: stop accepting work and release the async handle.
    void close();
    // Thread-safe: closures dropped because the queue was full, since start.
    uint64_t dropped() const;

private:
    static void on_async(uv_async_t* h);
    void drain();

    UvHandle<uv_async_t> async_;
    mutable std::mutex mutex_;
    BoundedQueue<std::function<void()>> queue_;
    bool closed_ = false;
};

}  // namespace pave
