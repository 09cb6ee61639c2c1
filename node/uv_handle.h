// Owns one heap-allocated libuv handle. libuv requires uv_close before a handle's memory is
// freed, and allows freeing it only in (or after) the close callback; so close() clears the
// handle's data pointer (no callback reaches an owner that is going away), calls uv_close and
// deletes the handle in the close callback. The destructor closes. Closing a handle also stops
// it (timers, reads, async wake-ups). A handle made by create() must be initialised
// (uv_*_init) by the caller right away: libuv cannot close an uninitialised one.
#pragma once
#include <uv.h>

#include <utility>

namespace pave {

template <typename T>
class UvHandle {
public:
    UvHandle() = default;
    ~UvHandle() { close(); }
    UvHandle(const UvHandle&) = delete;
    UvHandle& operator=(const UvHandle&) = delete;

    // Closes the handle held, if any, and allocates a fresh, zeroed one.
    T* create() {
        close();
        h_ = new T{};
        return h_;
    }
    void close() {
        if (!h_) return;
        h_->data = nullptr;
        uv_close(reinterpret_cast<uv_handle_t*>(std::exchange(h_, nullptr)),
                 [](uv_handle_t* h) { delete reinterpret_cast<T*>(h); });
    }

    T* get() const { return h_; }
    T* operator->() const { return h_; }
    operator T*() const { return h_; }  // NOLINT: libuv calls take the raw handle
    uv_handle_t* handle() const { return reinterpret_cast<uv_handle_t*>(h_); }
    explicit operator bool() const { return h_ != nullptr; }

private:
    T* h_ = nullptr;
};

}  // namespace pave
