#include "node/loop_queue.h"

namespace pave {

LoopQueue::LoopQueue(uv_loop_t* loop, size_t capacity) : queue_(capacity) {
    uv_async_init(loop, async_.create(), &LoopQueue::on_async);
    async_->data = this;
}

LoopQueue::~LoopQueue() { close(); }

bool LoopQueue::post(std::function<void()> fn) {
    std::lock_guard lock(mutex_);
    if (closed_) return false;
    if (!queue_.push(std::move(fn))) return false;
    uv_async_send(async_);
    return true;
}

uint64_t LoopQueue::dropped() const {
    std::lock_guard lock(mutex_);
    return queue_.dropped();
}

void LoopQueue::close() {
    std::lock_guard lock(mutex_);
    if (closed_) return;
    closed_ = true;
    queue_.clear();
    async_.close();
}

void LoopQueue::on_async(uv_async_t* h) {
    if (auto* self = static_cast<LoopQueue*>(h->data)) self->drain();
}

void LoopQueue::drain() {
    std::deque<std::function<void()>> work;
    {
        std::lock_guard lock(mutex_);
        work = queue_.take_all();
    }
    for (auto& fn : work) {
        fn();
        if (closed_) break;
    }
}

}  // namespace pave
