// A FIFO with a fixed maximum length that refuses, and counts, what does not fit. Not
// thread-safe by itself (LoopQueue holds it under its mutex).
#pragma once
#include <cstddef>
#include <cstdint>
#include <deque>
#include <utility>

namespace pave {

template <typename T>
class BoundedQueue {
public:
    explicit BoundedQueue(size_t capacity) : capacity_(capacity) {}

    // False, and the item dropped and counted, if the queue already holds capacity() items.
    bool push(T item) {
        if (items_.size() >= capacity_) {
            ++dropped_;
            return false;
        }
        items_.push_back(std::move(item));
        return true;
    }
    // Everything queued, oldest first; the queue is left empty.
    std::deque<T> take_all() {
        std::deque<T> out;
        out.swap(items_);
        return out;
    }
    void clear() { items_.clear(); }

    size_t size() const { return items_.size(); }
    size_t capacity() const { return capacity_; }
    uint64_t dropped() const { return dropped_; }

private:
    size_t capacity_;
    std::deque<T> items_;
    uint64_t dropped_ = 0;
};

}  // namespace pave
