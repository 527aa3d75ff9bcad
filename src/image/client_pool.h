// registry::Client is used by one thread at a time; a ClientPool lends one
// per call so that blobs can be fetched or pushed from several threads while
// connections and tokens are reused. A client whose call threw is dropped,
// not returned to the pool.
#pragma once

#include <memory>
#include <mutex>
#include <type_traits>
#include <vector>

#include "registry/auth.h"
#include "registry/client.h"

namespace hull::image {

class ClientPool {
 public:
  // Clients of one pool share bearer tokens (Options::token_cache).
  ClientPool(oci::Reference ref, registry::Options opts, bool push)
      : ref_(std::move(ref)), opts_(std::move(opts)), push_(push) {
    if (!opts_.token_cache) opts_.token_cache = std::make_shared<registry::TokenCache>();
  }

  // Calls fn(Client&) with a client of the pool and returns its result.
  template <typename F>
  auto with(F&& fn) -> std::invoke_result_t<F, registry::Client&> {
    std::unique_ptr<registry::Client> c = take();
    if constexpr (std::is_void_v<std::invoke_result_t<F, registry::Client&>>) {
      fn(*c);
      give(std::move(c));
    } else {
      auto r = fn(*c);
      give(std::move(c));
      return r;
    }
  }

  const oci::Reference& ref() const { return ref_; }

 private:
  std::unique_ptr<registry::Client> take() {
    {
      std::lock_guard lk(mu_);
      if (!pool_.empty()) {
        auto c = std::move(pool_.back());
        pool_.pop_back();
        return c;
      }
    }
    return std::make_unique<registry::Client>(ref_, opts_, push_);
  }
  void give(std::unique_ptr<registry::Client> c) {
    std::lock_guard lk(mu_);
    pool_.push_back(std::move(c));
  }

  oci::Reference ref_;
  registry::Options opts_;
  bool push_;
  std::mutex mu_;
  std::vector<std::unique_ptr<registry::Client>> pool_;
};

}  // namespace hull::image
