#include "image/source.h"

#include "image/archive.h"
#include "image/client_pool.h"
#include "image/layout.h"
#include "util/error.h"
#include "util/file.h"

namespace hull::image {
namespace {

class RegistrySource : public Source {
 public:
  RegistrySource(const ImageName& name, registry::Options opts) : name_(name), pool_(name.ref, std::move(opts), false) {}

  std::string describe() const override { return name_.str(); }
  const oci::Reference* registry_ref() const override { return &name_.ref; }

  Doc top() override {
    return pool_.with([&](registry::Client& c) { return c.get_manifest(name_.ref.manifest_ref()); });
  }
  Doc child(const oci::Descriptor& d) override {
    return pool_.with([&](registry::Client& c) { return c.get_manifest(d.digest.str()); });
  }
  std::string blob_bytes(const oci::Descriptor& d, size_t limit) override {
    return pool_.with([&](registry::Client& c) { return c.fetch_blob_bytes(d, limit); });
  }
  void fetch_blob(const oci::Descriptor& d, int fd, ProgressBar* bar) override {
    pool_.with([&](registry::Client& c) { c.fetch_blob(d, fd, bar); });
  }
  bool can_fetch_ranges() const override { return true; }
  registry::Client::RangeStats fetch_ranges(const oci::Descriptor& d, std::span<const registry::ByteRange> ranges,
                                            const registry::Client::RangeSink& sink, ProgressBar* bar) override {
    return pool_.with([&](registry::Client& c) { return c.fetch_ranges(d, ranges, sink, bar); });
  }

 private:
  ImageName name_;
  ClientPool pool_;
};

class LayoutSource : public Source {
 public:
  LayoutSource(ImageName name, std::optional<TempDir> tmp)
      : name_(std::move(name)), tmp_(std::move(tmp)), layout_(Layout::open(tmp_ ? tmp_->path() : name_.path)) {}

  std::string describe() const override { return name_.str(); }

  Doc top() override { return read_doc(layout_.find(name_.name)); }
  Doc child(const oci::Descriptor& d) override { return read_doc(d); }

  std::string blob_bytes(const oci::Descriptor& d, size_t limit) override {
    return layout_.read_blob_bytes(d, limit);
  }

  void fetch_blob(const oci::Descriptor& d, int fd, ProgressBar* bar) override {
    with_context(fmt::format("blob {}", d.digest.short_str()),
                 [&] { copy_verified(layout_.blob_path(d.digest), d, fd, bar); });
  }

  std::optional<std::string> local_blob(const oci::Descriptor& d) override {
    if (!layout_.has_blob(d.digest, d.size)) return std::nullopt;
    return layout_.blob_path(d.digest);
  }

 private:
  Doc read_doc(const oci::Descriptor& d) {
    Doc doc;
    doc.bytes = layout_.read_blob_bytes(d, oci::kMaxManifestSize);
    doc.media_type = oci::media_type_of(doc.bytes, d.media_type);
    doc.digest = d.digest;
    return doc;
  }

  ImageName name_;
  std::optional<TempDir> tmp_;
  Layout layout_;
};

}  // namespace

registry::Client::RangeStats Source::fetch_ranges(const oci::Descriptor& d, std::span<const registry::ByteRange>,
                                                  const registry::Client::RangeSink&, ProgressBar*) {
  fail("{}: blob {}: this source cannot fetch byte ranges", describe(), d.digest.short_str());
}

std::unique_ptr<Source> open_source(const ImageName& name, const registry::Options& opts) {
  switch (name.transport) {
    case Transport::kDocker:
      return std::make_unique<RegistrySource>(name, opts);
    case Transport::kOci:
      return std::make_unique<LayoutSource>(name, std::nullopt);
    case Transport::kOciArchive: {
      TempDir tmp("hull-oci-archive");
      extract_layout_archive(name.path, tmp.path());
      return std::make_unique<LayoutSource>(name, std::move(tmp));
    }
  }
  fail("unknown transport");
}

Doc resolve_manifest(Source& src, const Doc& top, const std::optional<oci::Platform>& platform) {
  if (oci::classify(top.bytes, top.media_type) == oci::DocKind::kManifest) return top;
  oci::Index idx = oci::Index::parse(top.bytes, top.media_type);
  const oci::Descriptor& d = idx.select(platform.value_or(oci::Platform::host()));
  Doc m = src.child(d);
  if (oci::classify(m.bytes, m.media_type) != oci::DocKind::kManifest)
    fail("manifest {} for {} is not an image manifest", d.digest.short_str(), d.platform ? d.platform->str() : "?");
  return m;
}

}  // namespace hull::image
