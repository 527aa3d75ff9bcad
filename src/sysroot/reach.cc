#include "sysroot/reach.h"

#include "util/error.h"
#include "util/file.h"

namespace hull::sysroot {
namespace {

// A Source whose top document was fetched once already, to learn that the
// image can be reached: the pull that follows gets the same document
// instead of asking again.
class ReachedSource : public image::Source {
 public:
  ReachedSource(std::unique_ptr<image::Source> inner, image::Doc top) : inner_(std::move(inner)), top_(std::move(top)) {}
  std::string describe() const override { return inner_->describe(); }
  image::Doc top() override { return top_; }
  image::Doc child(const oci::Descriptor& d) override { return inner_->child(d); }
  std::string blob_bytes(const oci::Descriptor& d, size_t limit) override { return inner_->blob_bytes(d, limit); }
  void fetch_blob(const oci::Descriptor& d, int fd, ProgressBar* bar) override { inner_->fetch_blob(d, fd, bar); }
  // Forwarded, or upgrade and switch never pull file by file (bench/update).
  bool can_fetch_ranges() const override { return inner_->can_fetch_ranges(); }
  registry::Client::RangeStats fetch_ranges(const oci::Descriptor& d, std::span<const registry::ByteRange> ranges,
                                            const registry::Client::RangeSink& sink, ProgressBar* bar) override {
    return inner_->fetch_ranges(d, ranges, sink, bar);
  }
  std::optional<std::string> local_blob(const oci::Descriptor& d) override { return inner_->local_blob(d); }
  const oci::Reference* registry_ref() const override { return inner_->registry_ref(); }

 private:
  std::unique_ptr<image::Source> inner_;
  image::Doc top_;
};

}  // namespace

// Opens the image that `from` follows and fetches its top document. An
// origin that cannot be read (a layout that is gone, a registry that
// refuses the connection) is one line that names it and says how to follow
// another image; later failures keep their own messages.
std::unique_ptr<image::Source> reach_origin(Context& ctx, OstreeSysroot* s, const image::ImageName& name) {
  std::string why;
  try {
    auto src = image::open_source(name, ctx.registry);
    image::Doc top = src->top();
    return std::make_unique<ReachedSource>(std::move(src), std::move(top));
  } catch (const Error& e) {
    why = e.message();
  }
  if (name.transport != image::Transport::kDocker && !path_exists(name.path))
    why = name.transport == image::Transport::kOci ? "no such directory" : "no such file";
  fail("cannot reach {} (the origin of the {} deployment): {}; use '{} switch IMAGE' to follow another image",
       name.str(), ostree_sysroot_get_booted_deployment(s) ? "booted" : "default", why, ctx.prog);
}

}  // namespace hull::sysroot
