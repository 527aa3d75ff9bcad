#include "image/dest.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "image/archive.h"
#include "image/client_pool.h"
#include "image/layout.h"
#include "util/error.h"
#include "util/fd.h"
#include "util/file.h"

namespace hull::image {
namespace {

oci::Descriptor doc_descriptor(const Doc& doc) {
  oci::Descriptor d;
  d.media_type = doc.media_type;
  d.digest = doc.digest;
  d.size = static_cast<int64_t>(doc.bytes.size());
  return d;
}

class LayoutDest : public Dest {
 public:
  LayoutDest(ImageName name, std::string dir) : name_(std::move(name)), layout_(Layout::open_or_create(dir)) {}

  std::string describe() const override { return name_.str(); }
  bool has_blob(const oci::Descriptor& d) override { return layout_.has_blob(d.digest, d.size); }

  void put_blob(const oci::Descriptor& d, Source& src, ProgressBar* bar) override {
    layout_.write_blob(d, [&](int fd) { src.fetch_blob(d, fd, bar); });
  }

  void put_blob_file(const oci::Descriptor& d, const std::string& path, ProgressBar* bar) override {
    layout_.write_blob(d, [&](int out) {
      UniqueFd in = open_file(path, O_RDONLY);
      oci::DigestVerifier v(d.digest);
      std::string buf(1u << 20, '\0');
      for (;;) {
        ssize_t n = ::read(in.get(), buf.data(), buf.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) fail_errno("reading " + path);
        if (n == 0) break;
        v.update(buf.data(), static_cast<size_t>(n));
        write_all(out, std::string_view(buf.data(), static_cast<size_t>(n)), "writing blob " + d.digest.short_str());
        if (bar) bar->add(static_cast<uint64_t>(n));
      }
      v.verify();
    });
  }

  void put_manifest(const Doc& doc, bool top) override {
    oci::Descriptor d = doc_descriptor(doc);
    if (!layout_.has_blob(d.digest, d.size)) layout_.write_blob_bytes(d, doc.bytes);
    if (top) top_ = d;
  }

  void commit() override {
    if (top_.digest.empty()) fail("no manifest was written");
    layout_.add_manifest(top_, name_.name);
  }

 protected:
  ImageName name_;
  Layout layout_;
  oci::Descriptor top_;
};

// An oci-archive is written as a layout in a temporary directory, then
// packed into the archive in one atomic rename.
class ArchiveDest : public Dest {
 public:
  explicit ArchiveDest(ImageName name)
      : tmp_("hull-oci-archive"), inner_(name, tmp_.path() + "/layout"), name_(std::move(name)) {}

  std::string describe() const override { return name_.str(); }
  bool has_blob(const oci::Descriptor& d) override { return inner_.has_blob(d); }
  void put_blob(const oci::Descriptor& d, Source& src, ProgressBar* bar) override { inner_.put_blob(d, src, bar); }
  void put_blob_file(const oci::Descriptor& d, const std::string& path, ProgressBar* bar) override {
    inner_.put_blob_file(d, path, bar);
  }
  void put_manifest(const Doc& doc, bool top) override { inner_.put_manifest(doc, top); }
  void commit() override {
    inner_.commit();
    write_layout_archive(tmp_.path() + "/layout", name_.path);
  }

 private:
  TempDir tmp_;
  LayoutDest inner_;
  ImageName name_;
};

class RegistryDest : public Dest {
 public:
  RegistryDest(ImageName name, registry::Options opts) : name_(std::move(name)), pool_(name_.ref, std::move(opts), true) {}

  std::string describe() const override { return name_.str(); }

  bool has_blob(const oci::Descriptor& d) override {
    return pool_.with([&](registry::Client& c) { return c.has_blob(d.digest); });
  }

  void put_blob(const oci::Descriptor& d, Source& src, ProgressBar* bar) override {
    pool_.with([&](registry::Client& c) {
      const oci::Reference* from = src.registry_ref();
      if (from && from->registry == name_.ref.registry && from->repository != name_.ref.repository &&
          c.mount_blob(d.digest, from->repository)) {
        if (bar) bar->finish("mounted");
      } else if (auto path = src.local_blob(d)) {
        UniqueFd fd = open_file(*path, O_RDONLY);
        c.push_blob(d, fd.get(), bar);
      } else {
        // Registry to registry: through a verified temporary file.
        TempDir tmp("hull-blob");
        std::string p = tmp.path() + "/blob";
        UniqueFd fd = open_file(p, O_RDWR | O_CREAT | O_EXCL, 0600);
        src.fetch_blob(d, fd.get(), nullptr);
        c.push_blob(d, fd.get(), bar);
      }
    });
  }

  void put_blob_file(const oci::Descriptor& d, const std::string& path, ProgressBar* bar) override {
    pool_.with([&](registry::Client& c) {
      UniqueFd fd = open_file(path, O_RDONLY);
      c.push_blob(d, fd.get(), bar);
    });
  }

  void put_manifest(const Doc& doc, bool top) override {
    if (top) {
      top_ = doc;
      return;
    }
    pool_.with([&](registry::Client& c) { c.put_manifest(doc.digest.str(), doc.bytes, doc.media_type); });
  }

  void commit() override {
    if (top_.digest.empty()) fail("no manifest was written");
    // Without a tag, the manifest is stored under its digest only.
    std::string ref = name_.ref.tag.empty() ? top_.digest.str() : name_.ref.tag;
    pool_.with([&](registry::Client& c) { c.put_manifest(ref, top_.bytes, top_.media_type); });
  }

 private:
  ImageName name_;
  ClientPool pool_;
  Doc top_;
};

}  // namespace

std::unique_ptr<Dest> open_dest(const ImageName& name, const registry::Options& opts) {
  switch (name.transport) {
    case Transport::kDocker:
      if (name.ref.digest) fail("cannot push to {}: a destination is named by tag, not by digest", name.str());
      return std::make_unique<RegistryDest>(name, opts);
    case Transport::kOci:
      return std::make_unique<LayoutDest>(name, name.path);
    case Transport::kOciArchive:
      return std::make_unique<ArchiveDest>(name);
  }
  fail("unknown transport");
}

}  // namespace hull::image
