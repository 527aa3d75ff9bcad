#include "signature/gpg.h"

#include <gpgme.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>

#include "util/error.h"
#include "util/file.h"

namespace hull::signature {
namespace {

// A move-only owner of one gpgme_data_t.
class Data {
 public:
  Data() { check(gpgme_data_new(&d_), "gpgme_data_new"); }
  explicit Data(std::string_view bytes) {
    check(gpgme_data_new_from_mem(&d_, bytes.data(), bytes.size(), 1), "gpgme_data_new_from_mem");
  }
  ~Data() {
    if (d_) gpgme_data_release(d_);
  }
  Data(const Data&) = delete;
  Data& operator=(const Data&) = delete;
  gpgme_data_t get() const { return d_; }
  std::string take() {
    size_t n = 0;
    char* p = gpgme_data_release_and_get_mem(d_, &n);
    d_ = nullptr;
    std::string s(p ? p : "", n);
    gpgme_free(p);
    return s;
  }
  static void check(gpgme_error_t e, const char* what) {
    if (e) fail("{}: {}", what, gpgme_strerror(e));
  }

 private:
  gpgme_data_t d_ = nullptr;
};

}  // namespace

struct GpgVerifier::Impl {
  TempDir home{"hull-gnupg"};
  gpgme_ctx_t ctx = nullptr;
  std::vector<std::string> fingerprints;

  ~Impl() {
    if (ctx) gpgme_release(ctx);
    // gpg may have started an agent for this home: stop it before the
    // directory goes (it would notice and exit, but later).
    pid_t pid = ::fork();
    if (pid == 0) {
      ::execlp("gpgconf", "gpgconf", "--homedir", home.path().c_str(), "--kill", "all", (char*)nullptr);
      ::_exit(127);
    }
    if (pid > 0) {
      int st;
      ::waitpid(pid, &st, 0);
    }
  }
};

GpgVerifier::GpgVerifier(std::string_view keys) : impl_(std::make_unique<Impl>()) {
  gpgme_check_version(nullptr);
  Data::check(gpgme_new(&impl_->ctx), "starting GPGME");
  Data::check(gpgme_set_protocol(impl_->ctx, GPGME_PROTOCOL_OpenPGP), "GPGME OpenPGP");
  Data::check(gpgme_ctx_set_engine_info(impl_->ctx, GPGME_PROTOCOL_OpenPGP, nullptr, impl_->home.path().c_str()),
              "GPGME home directory");
  gpgme_set_armor(impl_->ctx, 0);
  gpgme_set_textmode(impl_->ctx, 0);
  Data in(keys);
  Data::check(gpgme_op_import(impl_->ctx, in.get()), "importing the policy's GPG keys");
  gpgme_import_result_t r = gpgme_op_import_result(impl_->ctx);
  for (gpgme_import_status_t s = r ? r->imports : nullptr; s; s = s->next)
    if (s->result == GPG_ERR_NO_ERROR && s->fpr &&
        std::find(impl_->fingerprints.begin(), impl_->fingerprints.end(), s->fpr) == impl_->fingerprints.end())
      impl_->fingerprints.push_back(s->fpr);
  if (impl_->fingerprints.empty()) fail("no GPG public key could be imported from the policy's keys");
}

GpgVerifier::~GpgVerifier() = default;

const std::vector<std::string>& GpgVerifier::fingerprints() const { return impl_->fingerprints; }

std::string GpgVerifier::verify(std::string_view signature) {
  return with_context("invalid GPG signature", [&] {
    Data sig(signature), plain;
    if (gpgme_error_t e = gpgme_op_verify(impl_->ctx, sig.get(), nullptr, plain.get())) fail("{}", gpgme_strerror(e));
    gpgme_verify_result_t r = gpgme_op_verify_result(impl_->ctx);
    int n = 0;
    for (gpgme_signature_t s = r ? r->signatures : nullptr; s; s = s->next) n++;
    if (n != 1) fail("{} signatures, expected exactly 1", n);
    gpgme_signature_t s = r->signatures;
    if (gpgme_err_code(s->status) != GPG_ERR_NO_ERROR)
      fail("{} (key {})", gpgme_strerror(s->status), s->fpr ? s->fpr : "?");
    if (s->validity == GPGME_VALIDITY_NEVER || s->validity_reason != 0 || s->wrong_key_usage)
      fail("signature by key {} is not valid", s->fpr ? s->fpr : "?");
    std::string fpr = s->fpr ? s->fpr : "";
    auto accepted = [&](const std::string& f) {
      return std::find(impl_->fingerprints.begin(), impl_->fingerprints.end(), f) != impl_->fingerprints.end();
    };
    if (!accepted(fpr)) {
      gpgme_key_t key = nullptr;
      std::string primary;
      if (!fpr.empty() && gpgme_get_key(impl_->ctx, fpr.c_str(), &key, 0) == 0 && key) {
        if (key->subkeys && key->subkeys->fpr) primary = key->subkeys->fpr;
        gpgme_key_unref(key);
      }
      if (primary.empty() || !accepted(primary)) fail("signature by key {} is not accepted", fpr);
    }
    return plain.take();
  });
}

}  // namespace hull::signature
