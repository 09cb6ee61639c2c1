#include "node/loop_queue.h"

namespace pave {

LoopQueue::LoopQueue(uv_loop_t* loop) : async_(new uv_async_t) {
    uv_async_init(loop, async_, &LoopQueue::on_async);
    async_->data = this;
}

LoopQueue::~LoopQueue() { close(); }

void LoopQueue::post(std::function<void()> fn) {
    std::lock_guard lock(mutex_);
    if (closed_) return;
    queue_.push_back(std::move(fn));
    uv_async_send(async_);
}

void LoopQueue::close() {
    std::lock_guard lock(mutex_);
    if (closed_) return;
    closed_ = true;
    queue_.clear();
    async_->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(async_),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_async_t*>(h); });
}

void LoopQueue::on_async(uv_async_t* h) {
    if (auto* self = static_cast<LoopQueue*>(h->data)) self->drain();
}

void LoopQueue::drain() {
    std::deque<std::function<void()>> work;
    {
        std::lock_guard lock(mutex_);
        work.swap(queue_);
    }
    for (auto& fn : work) {
        fn();
        if (closed_) break;
    }
}

}  // namespace pave
