// A client for one repository of an OCI distribution-spec v2 registry.
//
// Auth: anonymous, HTTP basic, and bearer tokens through the
// WWW-Authenticate challenge flow (scope repository:NAME:pull[,push]).
// Credentials come from Options::authfile or the files podman and docker
// write (see registry/auth.h). HTTPS is verified unless tls_verify is false;
// localhost and 127.0.0.0/8 use plain HTTP, as podman does.
//
// Every byte is verified against its digest before it is kept; transient
// failures (connection reset, 429, 5xx, stalls) are retried with backoff and
// an interrupted blob resumes with a Range request. A Client is used by one
// thread at a time; make one per thread to fetch in parallel (they share
// nothing but may share a TokenCache).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "oci/digest.h"
#include "oci/manifest.h"
#include "oci/reference.h"
#include "registry/ranges.h"
#include "util/progress.h"

namespace hull::registry {

class TokenCache;  // registry/auth.h

struct Options {
  std::string authfile;                // empty: the default search path
  bool tls_verify = true;              // --tls-verify
  std::optional<bool> plain_http;      // unset: plain HTTP for local hosts only
  int max_attempts = 5;                // per request, for transient failures
  int stall_timeout_seconds = 30;      // no byte for this long = a failure to retry
  uint64_t chunk_size = 0;             // push: 0 = monolithic upload, else PATCH chunks of this size
  // Bearer tokens shared by the Clients given the same cache (copies of
  // these Options share it); null: each Client keeps its own.
  std::shared_ptr<TokenCache> token_cache;
};

struct FetchedManifest {
  std::string bytes;
  std::string media_type;  // from Content-Type, else from the document
  oci::Digest digest;      // of the bytes (verified when fetched by digest)
};

class Client {
 public:
  // `ref` names the registry and repository (tag/digest unused); `push`
  // asks for push scope as well as pull.
  Client(const oci::Reference& ref, Options opts, bool push = false);
  ~Client();
  Client(Client&&) noexcept;

  // GET /v2/NAME/manifests/REF with the Accept types of every manifest kind
  // hull reads. Refuses bodies over oci::kMaxManifestSize. When `ref` is a
  // digest the bytes are verified against it.
  FetchedManifest get_manifest(std::string_view tag_or_digest);
  // The same, but nullopt when the registry answers 404 (a tag that does
  // not exist, such as an image's sigstore attachment tag).
  std::optional<FetchedManifest> find_manifest(std::string_view tag_or_digest);

  // Streams blob `d` into `fd` (opened for writing, empty, seekable),
  // verifying size and digest; on an interrupted transfer resumes with
  // Range from what was written, or starts over if the server ignores
  // Range. On return the fd holds exactly the verified blob; on an error it
  // is left empty. Writes with pwrite (the file offset does not move).
  // `bar` (may be null) follows the bytes; finishing it is the caller's.
  void fetch_blob(const oci::Descriptor& d, int fd, ProgressBar* bar = nullptr);

  // Receives the bytes of ranges[index], `offset_in_range` bytes into it.
  using RangeSink = std::function<void(size_t index, uint64_t offset_in_range, std::string_view data)>;
  struct RangeStats {
    uint64_t bytes_received = 0;  // response body bytes, multipart framing and cut bytes included
    int requests = 0;             // GETs sent, retries included (auth challenges not)
    bool whole_blob = false;      // the registry sent the whole blob (200) and ranges were cut from it
  };

  // Fetches byte ranges of blob `d` (a partial pull). `ranges` must be
  // sorted, non-overlapping and inside the blob (refused otherwise; empty
  // ranges are allowed and skipped). Every byte of every range reaches
  // `sink` exactly once, in increasing order within a range; ranges may be
  // served in any order. The bytes are NOT verified: the blob's digest
  // cannot be checked from parts of it, so the caller verifies what it
  // builds from them (each file's digest).
  //
  // Requests carry up to 256 ranges (a Range header under 6000 bytes);
  // multipart/byteranges and single-part 206 answers are placed by their
  // own Content-Range (servers merge, reorder and widen parts; bytes not
  // asked for are cut). Fallbacks: 400/416 halve the ranges per request
  // down to one; a 206 with one part for several ranges (storage behind a
  // redirect) goes to one range per request; a 200 (the whole blob) is
  // taken, and every remaining range cut from it, when more than half the
  // blob is still wanted or the request had one range, else it is dropped
  // and the rest is asked one range per request. Transient failures are
  // retried like every other request, each range resuming after the bytes
  // already delivered. `bar` (may be null) counts body bytes received.
  RangeStats fetch_ranges(const oci::Descriptor& d, std::span<const ByteRange> ranges, const RangeSink& sink,
                          ProgressBar* bar = nullptr);

  // Small blobs (configs): fetched, verified, returned; refuses > `limit`.
  std::string fetch_blob_bytes(const oci::Descriptor& d, size_t limit);

  // HEAD /v2/NAME/blobs/DIGEST.
  bool has_blob(const oci::Digest& d);

  // Cross-repository mount from `from_repository` (same registry); true if
  // the registry mounted it, false if it fell back to an upload session.
  bool mount_blob(const oci::Digest& d, std::string_view from_repository);

  // Uploads blob `d` read from `fd` (positioned anywhere; read with pread
  // from offset 0), monolithic or chunked per Options::chunk_size. Skips
  // the upload if has_blob(). `bar` (may be null) follows the bytes sent;
  // finishing it is the caller's. A transient failure restarts the upload
  // with a new session.
  void push_blob(const oci::Descriptor& d, int fd, ProgressBar* bar = nullptr);
  void push_blob_bytes(const oci::Descriptor& d, std::string_view bytes);

  // PUT /v2/NAME/manifests/REF (a tag or the digest).
  void put_manifest(std::string_view tag_or_digest, std::string_view bytes, std::string_view media_type);

 private:
  std::optional<FetchedManifest> get_manifest_impl(std::string_view tag_or_digest, bool missing_ok);
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace hull::registry
