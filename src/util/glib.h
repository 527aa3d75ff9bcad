// RAII for GLib/GObject handles (libostree's world) and the conversion of a
// GError into hull's Error at the boundary.
#pragma once

#include <gio/gio.h>
#include <glib-object.h>

#include <string>
#include <string_view>
#include <utility>

namespace hull {

// Owns one reference of a GObject.
template <typename T>
class GRef {
 public:
  GRef() = default;
  // Takes ownership of `p` (a reference the caller owned).
  explicit GRef(T* p) : p_(p) {}
  GRef(const GRef& o) : p_(o.p_ ? static_cast<T*>(g_object_ref(o.p_)) : nullptr) {}
  GRef(GRef&& o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
  GRef& operator=(GRef o) noexcept {
    std::swap(p_, o.p_);
    return *this;
  }
  ~GRef() {
    if (p_) g_object_unref(p_);
  }
  // Adds a reference to a borrowed pointer.
  static GRef borrow(T* p) { return GRef(p ? static_cast<T*>(g_object_ref(p)) : nullptr); }
  T* get() const { return p_; }
  T* operator->() const { return p_; }
  explicit operator bool() const { return p_ != nullptr; }
  // For out-parameters: releases what is held and returns the slot.
  T** out() {
    reset();
    return &p_;
  }
  void reset() {
    if (p_) g_object_unref(std::exchange(p_, nullptr));
  }
  T* release() { return std::exchange(p_, nullptr); }

 private:
  T* p_ = nullptr;
};

// Owns a GVariant reference (sinks floating references).
class GVar {
 public:
  GVar() = default;
  explicit GVar(GVariant* v) : v_(v ? g_variant_ref_sink(v) : nullptr) {}
  GVar(const GVar& o) : v_(o.v_ ? g_variant_ref(o.v_) : nullptr) {}
  GVar(GVar&& o) noexcept : v_(std::exchange(o.v_, nullptr)) {}
  GVar& operator=(GVar o) noexcept {
    std::swap(v_, o.v_);
    return *this;
  }
  ~GVar() {
    if (v_) g_variant_unref(v_);
  }
  GVariant* get() const { return v_; }
  explicit operator bool() const { return v_ != nullptr; }
  GVariant** out() {
    if (v_) g_variant_unref(std::exchange(v_, nullptr));
    return &v_;
  }

 private:
  GVariant* v_ = nullptr;
};

// A GError slot; check() throws hull::Error("what: message") if set.
class GErr {
 public:
  GErr() = default;
  GErr(const GErr&) = delete;
  GErr& operator=(const GErr&) = delete;
  ~GErr() {
    if (e_) g_error_free(e_);
  }
  GError** out() { return &e_; }
  GError* get() const { return e_; }
  // Throws Error naming `what` and the GError's message.
  [[noreturn]] void raise(std::string_view what);
  // True if the error is G_IO_ERROR_NOT_FOUND.
  bool not_found() const { return e_ && g_error_matches(e_, G_IO_ERROR, G_IO_ERROR_NOT_FOUND); }

 private:
  GError* e_ = nullptr;
};

// Owns a g_malloc'ed string.
class GStr {
 public:
  GStr() = default;
  explicit GStr(char* s) : s_(s) {}
  GStr(GStr&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  GStr(const GStr&) = delete;
  ~GStr() { g_free(s_); }
  const char* get() const { return s_; }
  std::string str() const { return s_ ? s_ : ""; }
  char** out() {
    g_free(std::exchange(s_, nullptr));
    return &s_;
  }

 private:
  char* s_ = nullptr;
};

}  // namespace hull
